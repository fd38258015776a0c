import type { CookieSession } from '../api/session';
import { AppLink } from '../components/app-link';
import { withNext } from '../lib/return-path';
import { LoginForm } from './login-form';

export function LoginPage({
  session,
  back,
  onDone,
}: {
  session: CookieSession;
  /** Where the visitor was going: kept if they create an account instead. */
  back: string | undefined;
  onDone(): void;
}) {
  return (
    <main className="auth-page">
      <h1>Log in to Meridian</h1>
      <LoginForm session={session} onDone={onDone} />
      <p>
        New here? <AppLink to={withNext('/signup', back)}>Create an account</AppLink>
      </p>
    </main>
  );
}
