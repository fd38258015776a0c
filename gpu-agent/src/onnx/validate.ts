import { elementCount, type Tensor, type TensorMetadata } from '@meridian/protocol';
import { InferInputError } from './errors.js';
import type { ModelSignature } from './session.js';

const shapeText = (shape: readonly number[]) => `[${shape.join(',')}]`;

function checkOne(spec: TensorMetadata, t: Tensor): void {
  if (t.datatype !== spec.datatype)
    throw new InferInputError(
      `input '${t.name}': datatype ${t.datatype} does not match the model's ${spec.datatype}`,
    );
  if (t.shape.length !== spec.shape.length)
    throw new InferInputError(
      `input '${t.name}': shape ${shapeText(t.shape)} has rank ${t.shape.length} but the model expects rank ${spec.shape.length} ${shapeText(spec.shape)}`,
    );
  spec.shape.forEach((want, i) => {
    if (want !== -1 && t.shape[i] !== want)
      throw new InferInputError(
        `input '${t.name}': dimension ${i} is ${t.shape[i]} but the model expects ${want} ${shapeText(spec.shape)}`,
      );
  });
  const count = elementCount(t.shape);
  if (t.data.length !== count)
    throw new InferInputError(
      `input '${t.name}': shape ${shapeText(t.shape)} needs ${count} elements but data holds ${t.data.length}`,
    );
}

/**
 * Checks request tensors against a model's signature (names, datatypes, ranks, fixed dimensions, element
 * counts) and returns them in signature order. Every message names the input and what was expected.
 */
export function validateInputs(signature: ModelSignature, tensors: readonly Tensor[]): Tensor[] {
  const byName = new Map<string, Tensor>();
  for (const t of tensors) {
    if (byName.has(t.name)) throw new InferInputError(`input '${t.name}' appears more than once`);
    byName.set(t.name, t);
  }
  const expected = signature.inputs.map((s) => `'${s.name}'`).join(', ');
  for (const t of tensors)
    if (!signature.inputs.some((s) => s.name === t.name))
      throw new InferInputError(`unexpected input '${t.name}'; the model takes ${expected}`);
  return signature.inputs.map((spec) => {
    const t = byName.get(spec.name);
    if (t === undefined)
      throw new InferInputError(`missing input '${spec.name}' (${spec.datatype} ${shapeText(spec.shape)})`);
    checkOne(spec, t);
    return t;
  });
}

/** Checks that every requested output exists; returns their names (all outputs when none are named). */
export function selectOutputs(signature: ModelSignature, requested: readonly string[] | undefined): string[] {
  const names = signature.outputs.map((o) => o.name);
  if (requested === undefined || requested.length === 0) return names;
  for (const name of requested)
    if (!names.includes(name))
      throw new InferInputError(
        `unknown output '${name}'; the model has ${names.map((n) => `'${n}'`).join(', ')}`,
      );
  return [...requested];
}
