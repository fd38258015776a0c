import { type FormEvent, useState } from 'react';
import type { CookieSession } from '../api/session';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';

/** Email and password; logs in in cookie mode and calls onDone. */
export function LoginForm({
  session,
  onDone,
  email,
}: {
  session: CookieSession;
  onDone(): void;
  email?: string;
}) {
  const [form, setForm] = useState({ email: email ?? '', password: '' });
  const login = useAction(async () => {
    await session.start('/v1/auth/login', form);
    onDone();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void login.run();
  };
  return (
    <form onSubmit={submit} className="stack" aria-label="Log in">
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
      <Field label="Password">
        <input
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
        />
      </Field>
      <ErrorMessage error={login.error} />
      <button type="submit" className="primary" disabled={login.busy}>
        {login.busy ? 'Logging in…' : 'Log in'}
      </button>
    </form>
  );
}
