import { messageOf } from '../lib/errors';

/** The API's error message, announced to screen readers; nothing when there is no error. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const { message, code, requestId } = messageOf(error);
  return (
    <div className="error" role="alert">
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
