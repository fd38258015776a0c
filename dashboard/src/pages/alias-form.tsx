import { type FormEvent, useState } from 'react';
import { can, useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';

/** Points an alias (production, staging, …) at a version. */
export function AliasForm({ modelId, onSaved }: { modelId: string; onSaved(): void }) {
  const { client, role } = useApp();
  const [alias, setAlias] = useState('production');
  const [version, setVersion] = useState(1);
  const save = useAction(async () => {
    await client.request('put', '/v1/models/{id}/aliases/{alias}', {
      path: { id: modelId, alias },
      body: { version },
    });
    onSaved();
  });
  if (!can.write(role)) return null;
  // An error answers the alias and version that were sent: once either changes it is stale (and a version the
  // browser's own check blocks never reaches the API to replace it).
  const edit = (change: () => void) => {
    save.clearError();
    change();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void save.run();
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Set an alias">
      <Field label="Alias">
        <input value={alias} onChange={(e) => edit(() => setAlias(e.target.value))} required />
      </Field>
      <Field label="Version">
        <input
          type="number"
          min={1}
          value={version}
          onChange={(e) => edit(() => setVersion(Number(e.target.value)))}
        />
      </Field>
      <button type="submit" disabled={save.busy}>
        Set alias
      </button>
      <ErrorMessage error={save.error} />
    </form>
  );
}
