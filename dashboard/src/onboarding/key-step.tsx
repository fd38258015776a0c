import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { CopyButton } from '../components/copy-button';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';

/** Creates a predict-only API key and shows its secret this once, with a copy button. */
export function KeyStep({ onKey }: { onKey(secret: string): void }) {
  const { client } = useApp();
  const [name, setName] = useState('first key');
  const [secret, setSecret] = useState<string>();
  const create = useAction(async () => {
    const key = await client.request('post', '/v1/api-keys', { body: { name, scopes: ['predict'] } });
    setSecret(key.secret);
    onKey(key.secret);
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  if (secret) {
    return (
      <div className="stack">
        <p role="status">Your key (shown this once: copy it now, Meridian keeps only its hash):</p>
        <p className="secret">
          <code data-testid="api-key-secret">{secret}</code> <CopyButton text={secret} label="Copy key" />
        </p>
      </div>
    );
  }
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Create an API key">
      <Field label="Key name">
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <button type="submit" className="primary" disabled={create.busy}>
        Create key
      </button>
      <ErrorMessage error={create.error} />
    </form>
  );
}
