import { type DragEvent, useId, useState } from 'react';

/** A file by drag and drop, or by the file picker (keyboard users). */
export function DropZone({
  label,
  onFile,
  disabled,
  prompt = 'Drop a model file here (.onnx, .pt, .pkl, .h5, …)',
  accept,
}: {
  label: string;
  onFile(file: File): void;
  disabled?: boolean;
  /** What to drop; the default is the model upload's. */
  prompt?: string;
  /** The picker's filter (a hint only: the API still checks what it gets). */
  accept?: string;
}) {
  const [over, setOver] = useState(false);
  const id = useId();
  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setOver(false);
    const file = event.dataTransfer.files[0];
    if (file && !disabled) onFile(file);
  };
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: the drop target; the file input inside is the keyboard path
    <div
      className={`drop-zone${over ? ' over' : ''}`}
      data-testid="drop-zone"
      onDragOver={(event) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <p>{prompt}</p>
      <label htmlFor={id}>{label}</label>{' '}
      <input
        id={id}
        type="file"
        accept={accept}
        disabled={disabled}
        onChange={(event) => {
          const file = event.target.files?.[0];
          if (file) onFile(file);
          event.target.value = '';
        }}
      />
    </div>
  );
}
