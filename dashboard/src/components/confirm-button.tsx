import { useEffect, useRef, useState } from 'react';

/**
 * A destructive action that asks once more, inline, before it runs. The question takes the focus (on its
 * harmless answer), and backing out gives it back to the action: the button pressed is gone while it asks, and
 * a keyboard or screen-reader user would otherwise be left at the top of the page.
 */
export function ConfirmButton(props: {
  label: string;
  /**
   * The action's accessible name where its label alone may not tell it from its neighbours' (two keys both
   * named `ci`): it should begin with the label, so what a voice-control user reads out still finds it.
   */
  name?: string;
  confirm: string;
  onConfirm(): void;
  disabled?: boolean;
  /** The button that backs out; name it otherwise where the action itself is a cancel. */
  dismiss?: string;
}) {
  const [asking, setAsking] = useState(false);
  const action = useRef<HTMLButtonElement>(null);
  const dismiss = useRef<HTMLButtonElement>(null);
  const backedOut = useRef(false);
  useEffect(() => {
    if (asking) dismiss.current?.focus();
    else if (backedOut.current) {
      backedOut.current = false;
      action.current?.focus();
    }
  }, [asking]);
  if (!asking) {
    return (
      <button
        ref={action}
        type="button"
        className="danger"
        aria-label={props.name}
        onClick={() => setAsking(true)}
        disabled={props.disabled}
      >
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
      <button
        ref={dismiss}
        type="button"
        onClick={() => {
          backedOut.current = true;
          setAsking(false);
        }}
      >
        {props.dismiss ?? 'Cancel'}
      </button>
    </span>
  );
}
