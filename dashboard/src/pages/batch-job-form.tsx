import { collect } from '@meridian/sdk';
import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { DropZone } from '../components/drop-zone';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';
import { useLoad } from '../hooks/use-load';
import { formatBytes } from '../lib/format';

// The API's limit on lines in flight at once (control-plane/src/services/batch/deps.ts).
const MAX_CONCURRENCY = 32;

/** The API takes letters, digits and . _ - only in a file's name (as the CLI, so any local name uploads). */
function storedName(name: string): string {
  return (
    name
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/\.{2,}/g, '.')
      .replace(/^[^A-Za-z0-9]+/, '') || 'input.jsonl'
  );
}

/** A new job: a JSONL file (uploaded on submit) run on a deployment chosen by name. */
export function BatchJobForm({ onCreated }: { onCreated(): void }) {
  const { client } = useApp();
  // Every deployment, not one page of them: the one wanted may be anywhere in the list.
  const deployments = useLoad(() => collect(client.list('/v1/deployments')), []);
  const names = deployments.data?.map((d) => d.name) ?? [];
  const [form, setForm] = useState({ deployment: '', maxConcurrency: '' });
  const [file, setFile] = useState<File>();
  // A job the API refuses (say, the deployment's scope) keeps its uploaded file, so a retry sends it once.
  const [uploaded, setUploaded] = useState<{ file: File; id: string }>();
  const [created, setCreated] = useState<string>();
  const [step, setStep] = useState<'Uploading' | 'Creating'>('Uploading');
  const deployment = form.deployment || names[0] || '';
  const create = useAction(async (input: File) => {
    setCreated(undefined);
    let fileId = uploaded?.file === input ? uploaded.id : undefined;
    if (!fileId) {
      setStep('Uploading');
      const stored = await client.request('post', '/v1/files', {
        query: { filename: storedName(input.name), purpose: 'batch' },
        raw: { body: input, contentType: 'application/octet-stream' },
      });
      fileId = stored.id;
      setUploaded({ file: input, id: fileId });
    }
    setStep('Creating');
    await client.request('post', '/v1/batch-jobs', {
      body: {
        deployment,
        inputFileId: fileId,
        ...(form.maxConcurrency ? { maxConcurrency: Number(form.maxConcurrency) } : {}),
      },
    });
    setFile(undefined);
    setCreated(`${input.name} on ${deployment}`);
    onCreated();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (file) void create.run(file);
  };
  return (
    <form onSubmit={submit} className="stack card" aria-label="New batch job">
      <h2>New batch job</h2>
      <DropZone
        label="Or choose a .jsonl file"
        prompt="Drop a JSONL file here: one request per line (custom_id, method, url, body)"
        accept=".jsonl,.ndjson,application/jsonl,application/x-ndjson"
        onFile={(f) => {
          setFile(f);
          create.clearError();
        }}
        disabled={create.busy}
      />
      {file ? (
        <p>
          Input: <strong>{file.name}</strong> ({formatBytes(file.size)})
        </p>
      ) : null}
      <div className="inline-form">
        <Field label="Deployment">
          <select
            value={deployment}
            onChange={(e) => setForm({ ...form, deployment: e.target.value })}
            disabled={names.length === 0}
            required
          >
            {names.length === 0 ? (
              <option value="">{deployments.loading ? 'Loading deployments…' : 'No deployments yet'}</option>
            ) : null}
            {names.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Max concurrency (optional)">
          <input
            type="number"
            min={1}
            max={MAX_CONCURRENCY}
            value={form.maxConcurrency}
            onChange={(e) => setForm({ ...form, maxConcurrency: e.target.value })}
          />
        </Field>
        <button type="submit" className="primary" disabled={!file || !deployment || create.busy}>
          Create batch job
        </button>
      </div>
      {create.busy && file ? (
        <p role="status">
          {step === 'Uploading' ? `Uploading ${file.name} (${formatBytes(file.size)})…` : 'Creating the job…'}
        </p>
      ) : null}
      <ErrorMessage error={create.error ?? deployments.error} />
      {created && !create.busy ? <p role="status">Started {created}: validating its lines.</p> : null}
    </form>
  );
}
