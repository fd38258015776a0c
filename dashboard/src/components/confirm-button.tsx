import { useState } from 'react';

/** A destructive action that asks once more, inline, before it runs. */
export function ConfirmButton(props: {
  label: string;
  confirm: string;
  onConfirm(): void;
  disabled?: boolean;
  /** The button that backs out; name it otherwise where the action itself is a cancel. */
  dismiss?: string;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className="danger" onClick={() => setAsking(true)} disabled={props.disabled}>
        {props.label}
      </button>
    );
  }
  return (
    <span className="confirm">
      <button
        type="button"
        className="danger"
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.confirm}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        {props.dismiss ?? 'Cancel'}
      </button>
    </span>
  );
}
