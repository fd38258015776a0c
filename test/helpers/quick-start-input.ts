import * as ort from 'onnxruntime-node';
import { REAL_MODELS } from '../../control-plane/src/onnx/test-models.js';

/** The PaddleOCR classifier's input that the READMEs' quick starts send, computed the same way. */
export const SHAPE = [1, 3, 48, 192];
export const INPUT = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.cos(i) / 2);

/** What onnxruntime itself answers for INPUT: the scores a prediction through the platform must equal. */
export async function directScores(): Promise<number[]> {
  const session = await ort.InferenceSession.create(REAL_MODELS.paddleCls);
  const out = await session.run({ x: new ort.Tensor('float32', INPUT, SHAPE) });
  return [...((out[session.outputNames[0] as string] as ort.Tensor).data as Float32Array)];
}
