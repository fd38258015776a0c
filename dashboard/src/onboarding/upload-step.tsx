import {
  ConflictError,
  type MeridianClient,
  memorySource,
  type Schema,
  uploadModelVersion,
} from '@meridian/sdk';
import { useState } from 'react';
import { useApp } from '../api/context';
import { DropZone } from '../components/drop-zone';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { UploadProgress } from '../components/progress-bar';
import { useAction } from '../hooks/use-action';

type Model = Schema<'Model'>;
type ModelVersion = Schema<'ModelVersion'>;

// S3's smallest part: larger files go up in parts, so the bar moves as each one is stored.
const PART_SIZE = 5 * 1024 * 1024;

/**
 * The model named `name`, made now unless the organisation has one of that name: then the file is its next
 * version, as `meridian models push` does (the first run's default name, or a first try whose file was refused
 * before a reload, would otherwise answer only that the name is taken).
 */
async function modelNamed(client: MeridianClient, name: string): Promise<Model> {
  try {
    return await client.request('post', '/v1/models', { body: { name } });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const { items } = await client.request('get', '/v1/models', { query: { name } });
    const found = items.find((m) => m.name === name);
    if (!found) throw err;
    return found;
  }
}

/** Names the model, takes a file by drag and drop and uploads it with progress (the model is made once). */
export function UploadStep(props: {
  model?: Model;
  onModel(m: Model): void;
  onVersion(v: ModelVersion): void;
}) {
  const { client } = useApp();
  const [name, setName] = useState('my-model');
  const [progress, setProgress] = useState<{ done: number; total: number; file: string }>();
  const [uploaded, setUploaded] = useState<ModelVersion>();
  const upload = useAction(async (file: File) => {
    setProgress({ done: 0, total: file.size, file: file.name });
    // A failed upload (a wrong file) keeps the model, so the next file goes into it.
    const model = props.model ?? (await modelNamed(client, name));
    if (!props.model) props.onModel(model);
    const version = await uploadModelVersion(client, {
      modelId: model.id,
      source: memorySource(file.name, file),
      partSize: PART_SIZE,
      onProgress: (p) => setProgress({ done: p.doneBytes, total: p.totalBytes, file: file.name }),
    });
    setUploaded(version);
    props.onVersion(version);
  });
  return (
    <div className="stack">
      <Field label="Model name">
        <input
          value={props.model?.name ?? name}
          disabled={props.model !== undefined}
          onChange={(e) => setName(e.target.value)}
        />
      </Field>
      <DropZone label="Or choose a file" onFile={(f) => void upload.run(f)} disabled={upload.busy} />
      {/* Kept at 100% once sent; gone once refused, where the error says what happened instead. */}
      {progress && !upload.error ? <UploadProgress progress={progress} /> : null}
      <ErrorMessage error={upload.error} />
      {uploaded && !upload.busy && !upload.error ? (
        <p role="status">
          Uploaded <strong>{uploaded.fileName}</strong> as version {uploaded.version} of {props.model?.name}.
        </p>
      ) : null}
    </div>
  );
}
