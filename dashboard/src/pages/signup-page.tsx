import { type FormEvent, useState } from 'react';
import type { CookieSession } from '../api/session';
import { AppLink } from '../components/app-link';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';
import { withNext } from '../lib/return-path';

export function SignupPage({
  session,
  back,
  onDone,
}: {
  session: CookieSession;
  /** Where the visitor was going (an invitation link): kept if they log in instead. */
  back: string | undefined;
  onDone(): void;
}) {
  const [form, setForm] = useState({ name: '', email: '', password: '' });
  const signup = useAction(async () => {
    await session.start('/v1/auth/register', form);
    onDone();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void signup.run();
  };
  return (
    <main className="auth-page">
      <h1>Create your Meridian account</h1>
      <form onSubmit={submit} className="stack" aria-label="Sign up">
        <Field label="Name">
          <input
            name="name"
            autoComplete="name"
            required
            value={form.name}
            onChange={(e) => setForm({ ...form, name: e.target.value })}
          />
        </Field>
        <Field label="Email">
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            value={form.email}
            onChange={(e) => setForm({ ...form, email: e.target.value })}
          />
        </Field>
        <Field label="Password" hint="At least 10 characters; a passphrase works well.">
          <input
            type="password"
            name="password"
            autoComplete="new-password"
            required
            minLength={10}
            value={form.password}
            onChange={(e) => setForm({ ...form, password: e.target.value })}
          />
        </Field>
        <ErrorMessage error={signup.error} />
        <button type="submit" className="primary" disabled={signup.busy}>
          {signup.busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
      <p>
        Have an account? <AppLink to={withNext('/login', back)}>Log in</AppLink>
      </p>
    </main>
  );
}
