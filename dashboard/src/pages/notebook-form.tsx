import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { GpuCountField } from '../components/gpu-count-field';
import { useAction } from '../hooks/use-action';
import { type GpuType, gpuFields } from '../lib/gpus';

/** The new notebook form's request: a GPU count only for a GPU type (cpu takes none). */
export function notebookRequestBody(form: {
  name: string;
  gpuType: GpuType;
  gpuCount: number;
  idleMinutes: number;
}) {
  return {
    name: form.name,
    ...gpuFields(form.gpuType, form.gpuCount),
    idleTimeoutSeconds: form.idleMinutes * 60,
  };
}

export function NotebookForm({ onCreated }: { onCreated(): void }) {
  const { client } = useApp();
  const [form, setForm] = useState({ name: '', gpuType: 'cpu' as GpuType, gpuCount: 1, idleMinutes: 60 });
  const create = useAction(async () => {
    await client.request('post', '/v1/notebooks', { body: notebookRequestBody(form) });
    setForm({ ...form, name: '' });
    onCreated();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label="New notebook">
      <Field label="Notebook name">
        <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required />
      </Field>
      <Field label="GPU type">
        <select
          value={form.gpuType}
          onChange={(e) => setForm({ ...form, gpuType: e.target.value as GpuType })}
        >
          <option value="cpu">CPU only</option>
          <option value="t4">NVIDIA T4</option>
          <option value="rtx4090">RTX 4090</option>
          <option value="v100">V100</option>
        </select>
      </Field>
      <GpuCountField
        gpuType={form.gpuType}
        value={form.gpuCount}
        onChange={(gpuCount) => setForm({ ...form, gpuCount })}
      />
      <Field label="Stop after idle (minutes)">
        <input
          type="number"
          min={5}
          value={form.idleMinutes}
          onChange={(e) => setForm({ ...form, idleMinutes: Number(e.target.value) })}
        />
      </Field>
      <button type="submit" className="primary" disabled={create.busy}>
        Create notebook
      </button>
      <ErrorMessage error={create.error} />
    </form>
  );
}
