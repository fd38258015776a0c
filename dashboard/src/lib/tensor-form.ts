import type { Datatype, Schema, Tensor } from '@meridian/sdk';

type TensorSpec = Schema<'TensorSpec'>;

/** What the user typed for one input: a size for each dynamic dimension and the values. */
export interface InputDraft {
  dims: number[];
  values: string;
}

/** A draft per input: dynamic dimensions start at 1, values empty. */
export function draftsFor(inputs: TensorSpec[]): Record<string, InputDraft> {
  return Object.fromEntries(
    inputs.map((spec) => [spec.name, { dims: spec.shape.map((d) => (d < 0 ? 1 : d)), values: '' }]),
  );
}

export const elementCount = (dims: number[]) => dims.reduce((n, d) => n * d, 1);

/** Numbers from "1, 2 3" or "[1,2,3]" (nested arrays flattened). */
export function parseValues(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('['))
    return (JSON.parse(trimmed) as unknown[]).flat(Number.POSITIVE_INFINITY).map(Number);
  return trimmed.split(/[\s,]+/).map(Number);
}

/** Values to fill an input with: zeros, ones, or random numbers in [0, 1). */
export function fillValues(kind: 'zeros' | 'ones' | 'random', count: number): string {
  const value =
    kind === 'zeros' ? () => 0 : kind === 'ones' ? () => 1 : () => Number(Math.random().toFixed(4));
  return Array.from({ length: count }, value).join(', ');
}

/** The tensors to send, or the first thing wrong with the form, naming the input. */
export function tensorsFrom(inputs: TensorSpec[], drafts: Record<string, InputDraft>): Tensor[] | string {
  const tensors: Tensor[] = [];
  for (const spec of inputs) {
    const draft = drafts[spec.name];
    if (!draft) return `${spec.name}: no values`;
    let values: number[];
    try {
      values = parseValues(draft.values);
    } catch {
      return `${spec.name}: the values are not numbers or a JSON array`;
    }
    if (values.some((v) => Number.isNaN(v))) return `${spec.name}: some values are not numbers`;
    const want = elementCount(draft.dims);
    if (values.length !== want) {
      return `${spec.name}: shape [${draft.dims.join(', ')}] needs ${want} values, got ${values.length}`;
    }
    tensors.push({ name: spec.name, datatype: spec.datatype as Datatype, shape: draft.dims, data: values });
  }
  return tensors;
}
