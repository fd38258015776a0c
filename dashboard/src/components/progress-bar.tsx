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
