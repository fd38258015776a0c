import type { CookieSession } from '../api/session';
import { AppLink } from '../components/app-link';
import { LoginForm } from './login-form';

export function LoginPage({ session, onDone }: { session: CookieSession; onDone(): void }) {
  return (
    <main className="auth-page">
      <h1>Log in to Meridian</h1>
      <LoginForm session={session} onDone={onDone} />
      <p>
        New here? <AppLink to="/signup">Create an account</AppLink>
      </p>
    </main>
  );
}
