import { describe, expect, it } from 'vitest';
import { modelRunError } from './errors.js';

// Messages as onnxruntime-node 1.30 throws them from session.run.
const BROADCAST =
  "Non-zero status code returned while running Add node. Name:'' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:563 void onnxruntime::BroadcastIterator::Init(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 3 by 5";

describe('modelRunError', () => {
  it('takes shape and argument failures as caused by the input, without the build path', () => {
    const err = modelRunError(new Error(BROADCAST));
    expect(err.inputCaused).toBe(true);
    expect(err.message).toBe(
      "onnxruntime: Non-zero status code returned while running Add node. Name:'' Status Message: void onnxruntime::BroadcastIterator::Init(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 3 by 5",
    );
    expect(modelRunError(new Error('Invalid rank for input: x Got: 3 Expected: 2')).inputCaused).toBe(true);
  });

  it('takes other failures as the model’s own, keeping the message', () => {
    const err = modelRunError(new Error('Could not find an implementation for ConvInteger(10) node'));
    expect(err).toMatchObject({
      inputCaused: false,
      message: expect.stringMatching(/^onnxruntime: Could not find/),
    });
    expect(
      modelRunError(new Error('CUDA failure 700: an illegal memory access was encountered')).inputCaused,
    ).toBe(false);
  });
});
