import { formatBytes } from '../lib/format';

export function ProgressBar({ label, done, total }: { label: string; done: number; total: number }) {
  const percent = total > 0 ? Math.round((done / total) * 100) : 0;
  return (
    <div className="progress">
      <label>
        {label}: {percent}%
        <progress max={100} value={percent} aria-label={label} />
      </label>
    </div>
  );
}

/** A file being uploaded: its name and size, and the share of it sent. */
export function UploadProgress({ progress }: { progress: { file: string; done: number; total: number } }) {
  return (
    <ProgressBar
      label={`Uploading ${progress.file} (${formatBytes(progress.total)})`}
      done={progress.done}
      total={progress.total}
    />
  );
}
