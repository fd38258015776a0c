import { messageOf } from '../lib/errors';

/**
 * The API's error message, announced to screen readers; nothing when there is no error. `lead` says what did not
 * happen where the message alone would not (a refusal answers the request, not the button the user pressed).
 */
export function ErrorMessage({ error, lead }: { error: unknown; lead?: string }) {
  if (error === undefined || error === null) return null;
  const { message, code, requestId } = messageOf(error);
  return (
    <div className="error" role="alert">
      {lead ? `${lead} ` : null}
      <strong>{message}</strong>
      {code || requestId ? (
        <span className="muted">
          {' '}
          ({[code, requestId && `request ${requestId}`].filter(Boolean).join(', ')})
        </span>
      ) : null}
    </div>
  );
}
