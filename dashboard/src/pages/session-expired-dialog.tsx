import { useEffect, useRef } from 'react';
import type { CookieSession } from '../api/session';
import { LoginForm } from './login-form';

/** A modal login over the page: the session ended, the page (and its forms) stay as they were. */
export function SessionExpiredDialog(props: {
  session: CookieSession;
  email: string | undefined;
  onDone(): void;
  onLogout(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="expired-title" onCancel={(e) => e.preventDefault()}>
      <h2 id="expired-title">Your session has expired</h2>
      <p>Log in again to carry on; what you typed on the page is kept.</p>
      <LoginForm session={props.session} email={props.email} onDone={props.onDone} />
      <button type="button" className="link" onClick={props.onLogout}>
        Log out instead
      </button>
    </dialog>
  );
}
