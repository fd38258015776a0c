// A model's session worker (see worker-session.ts): loads one model with onnxruntime and runs the
// batches its owner posts, one at a time, so compute leaves the owner's event loop free.
import { parentPort } from 'node:worker_threads';
import type { Tensor } from '@meridian/protocol';
import { modelRunError } from './errors.js';
import { createInThreadSession } from './session.js';
import { type FromWorker, packTensors, type ToWorker, type WorkerInit } from './worker-messages.js';

if (parentPort === null) throw new Error('session-worker.ts runs only as a worker thread');
const port = parentPort;
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

// Started ahead of need (onnxruntime already loaded with this module), the worker waits for its model.
port.once('message', (first: ToWorker) => {
  if (first.type === 'load') void serve(first.init);
  else port.close();
});

async function serve(init: WorkerInit): Promise<void> {
  try {
    const session = await createInThreadSession(init.path, {
      ...init.options,
      log: (message, fields) => post({ type: 'log', message, fields }),
    });
    // Runs go one after another (onnxruntime would serialise them anyway), so 'close' can wait for the
    // one under way: terminating a worker inside session.run aborts the whole process (a Napi::Error
    // thrown from native code), so the owner never terminates a busy worker.
    let chain = Promise.resolve();
    let closing = false;
    port.on('message', (message: ToWorker) => {
      if (message.type === 'close') {
        closing = true;
        chain = chain.then(async () => {
          await session.release();
          port.close();
        });
        return;
      }
      if (message.type === 'run')
        chain = chain.then(() => (closing ? undefined : run(message.id, message.inputs)));
    });
    async function run(id: number, inputs: Tensor[]): Promise<void> {
      try {
        const done = await session.runTimed(inputs);
        // The outputs are onnxruntime's fresh buffers, owned by nobody else here: transfer them.
        const { tensors, transfer } = packTensors(done.outputs, true);
        post({ type: 'result', id, outputs: tensors, computeUs: done.computeUs }, transfer);
      } catch (err) {
        const failed = modelRunError(err);
        post({ type: 'error', id, message: failed.message, inputCaused: failed.inputCaused });
      }
    }
    post({ type: 'ready', signature: session.signature, executionProviders: session.executionProviders });
  } catch (err) {
    post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
}
