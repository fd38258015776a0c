import { type GpuType, MAX_GPU_COUNT } from '../lib/gpus';
import { Field } from './field';

/** How many GPUs (1–8) of a GPU type; nothing for `cpu`, which takes none. */
export function GpuCountField(props: {
  gpuType: GpuType;
  value: number;
  onChange(count: number): void;
  disabled?: boolean;
}) {
  if (props.gpuType === 'cpu') return null;
  return (
    <Field label="GPUs">
      <input
        type="number"
        min={1}
        max={MAX_GPU_COUNT}
        step={1}
        required
        value={props.value}
        onChange={(e) => props.onChange(Number(e.target.value))}
        disabled={props.disabled}
      />
    </Field>
  );
}
