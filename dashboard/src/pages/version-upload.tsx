import { memorySource, uploadModelVersion } from '@meridian/sdk';
import { useState } from 'react';
import { useApp } from '../api/context';
import { DropZone } from '../components/drop-zone';
import { ErrorMessage } from '../components/error-message';
import { UploadProgress } from '../components/progress-bar';
import { useAction } from '../hooks/use-action';

// S3's smallest part, as the first run's upload: larger files go up in parts and the bar moves with each.
const PART_SIZE = 5 * 1024 * 1024;

/** A new version of this model from a dropped or chosen file, with progress; the API says what it refuses. */
export function VersionUpload({ modelId, onUploaded }: { modelId: string; onUploaded(): void }) {
  const { client } = useApp();
  const [progress, setProgress] = useState<{ done: number; total: number; file: string }>();
  const [uploaded, setUploaded] = useState<string>();
  const upload = useAction(async (file: File) => {
    setUploaded(undefined);
    setProgress({ done: 0, total: file.size, file: file.name });
    const version = await uploadModelVersion(client, {
      modelId,
      source: memorySource(file.name, file),
      partSize: PART_SIZE,
      onProgress: (p) => setProgress({ done: p.doneBytes, total: p.totalBytes, file: file.name }),
    });
    setUploaded(`Uploaded ${version.fileName} as version ${version.version}.`);
    onUploaded();
  });
  return (
    <section aria-label="Upload a new version" className="stack">
      <h2>Upload a new version</h2>
      <DropZone label="Or choose a file" onFile={(f) => void upload.run(f)} disabled={upload.busy} />
      {progress && upload.busy ? <UploadProgress progress={progress} /> : null}
      <ErrorMessage error={upload.error} />
      {uploaded ? <p role="status">{uploaded}</p> : null}
    </section>
  );
}
