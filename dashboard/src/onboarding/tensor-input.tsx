import type { Schema } from '@meridian/sdk';
import { useState } from 'react';
import { Field } from '../components/field';
import { elementCount, fillValues, type InputDraft } from '../lib/tensor-form';

type TensorSpec = Schema<'TensorSpec'>;

/** One input of the signature: a size for each dynamic dimension, the values, and quick fills. */
export function TensorInput(props: { spec: TensorSpec; draft: InputDraft; onChange(d: InputDraft): void }) {
  const { spec, draft } = props;
  const [fill, setFill] = useState<'zeros' | 'ones' | 'random'>('random');
  const setDim = (i: number, value: number) =>
    props.onChange({ ...draft, dims: draft.dims.map((d, j) => (j === i ? value : d)) });
  return (
    <fieldset className="tensor">
      <legend>
        <code>{spec.name}</code> ({spec.datatype}, {elementCount(draft.dims)} values)
      </legend>
      <div className="inline-form">
        {spec.shape.map((d, i) =>
          d < 0 ? (
            // biome-ignore lint/suspicious/noArrayIndexKey: a dimension is its position
            <Field key={i} label={`${spec.name} dimension ${i}`}>
              <input
                type="number"
                min={1}
                value={draft.dims[i]}
                onChange={(e) => setDim(i, Math.max(1, Number(e.target.value) || 1))}
              />
            </Field>
          ) : (
            // biome-ignore lint/suspicious/noArrayIndexKey: a dimension is its position
            <span key={i} className="muted fixed-dim">
              dimension {i}: {d}
            </span>
          ),
        )}
      </div>
      <Field
        label={`${spec.name} values`}
        hint="Numbers separated by commas or spaces, or a JSON array, row-major."
      >
        <textarea
          rows={3}
          value={draft.values}
          onChange={(e) => props.onChange({ ...draft, values: e.target.value })}
        />
      </Field>
      <div className="inline-form">
        <label>
          Fill with{' '}
          <select value={fill} onChange={(e) => setFill(e.target.value as typeof fill)}>
            <option value="random">random numbers</option>
            <option value="zeros">zeros</option>
            <option value="ones">ones</option>
          </select>
        </label>
        <button
          type="button"
          onClick={() => props.onChange({ ...draft, values: fillValues(fill, elementCount(draft.dims)) })}
        >
          Fill {spec.name}
        </button>
      </div>
    </fieldset>
  );
}
