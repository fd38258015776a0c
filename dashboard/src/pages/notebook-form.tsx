import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';

type GpuType = 'cpu' | 't4' | 'v100' | 'rtx4090';

export function NotebookForm({ onCreated }: { onCreated(): void }) {
  const { client } = useApp();
  const [form, setForm] = useState({ name: '', gpuType: 'cpu' as GpuType, idleMinutes: 60 });
  const create = useAction(async () => {
    await client.request('post', '/v1/notebooks', {
      body: { name: form.name, gpuType: form.gpuType, idleTimeoutSeconds: form.idleMinutes * 60 },
    });
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
