import type { Tensor, TensorData } from '@meridian/protocol';
import type { ModelSignature, SessionOptions } from './session.js';

/**
 * Messages between a model's session worker and the thread that owns it. Both ends are this module's
 * code in one process (no trust boundary), so they are typed, not parsed: a zod pass over every tensor
 * would cost more than the run of a small model.
 */
export type WorkerInit = { path: string; options: Omit<SessionOptions, 'log' | 'thread'> };

/**
 * 'load': the first message, naming the model (a worker starts before it knows which, so one can wait
 * ready). 'close': finish the run under way, drop queued ones, release the session, exit.
 */
export type ToWorker =
  | { type: 'load'; init: WorkerInit }
  | { type: 'run'; id: number; inputs: Tensor[] }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; signature: ModelSignature; executionProviders: string[] }
  | { type: 'failed'; message: string }
  | { type: 'log'; message: string; fields: Record<string, unknown> }
  | { type: 'result'; id: number; outputs: Tensor[]; computeUs: number }
  | { type: 'error'; id: number; message: string; inputCaused: boolean };

type Numeric = Exclude<TensorData, Uint8Array[]>;

/**
 * Tensors ready to post, and the buffers to transfer with them. Structured clone copies the whole
 * ArrayBuffer under a view (a 110 KB input inside a 64 MB body, or Node's 8 KB Buffer pool), so nothing
 * is cloned. An owned tensor's buffer is transferred as is (detached here; views keep their offsets, and
 * tensors sharing a buffer share one transfer), which moves memory rather than copying it. A tensor not
 * owned is first copied to a buffer of its own size, which is transferred.
 */
export function packTensors(
  tensors: readonly Tensor[],
  owned: boolean,
): { tensors: Tensor[]; transfer: ArrayBuffer[] } {
  const transfer = new Set<ArrayBuffer>();
  const own = <T extends Numeric | Uint8Array>(data: T): T => {
    const { buffer } = data;
    if (owned && buffer instanceof ArrayBuffer) {
      transfer.add(buffer);
      return data;
    }
    const copy = data.slice() as T;
    transfer.add(copy.buffer as ArrayBuffer);
    return copy;
  };
  const packed = tensors.map((t) => ({
    ...t,
    data: Array.isArray(t.data) ? t.data.map((b) => own(b)) : own(t.data),
  }));
  return { tensors: packed, transfer: [...transfer] };
}
