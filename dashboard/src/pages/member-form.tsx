import { type FormEvent, useState } from 'react';
import type { Role } from '../api/context';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';

export function MemberForm({ onAdded }: { onAdded(): void }) {
  const { client } = useApp();
  const [form, setForm] = useState<{ email: string; role: Role }>({ email: '', role: 'member' });
  const add = useAction(async () => {
    await client.request('post', '/v1/org/members', { body: form });
    setForm({ ...form, email: '' });
    onAdded();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void add.run();
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Add a member">
      <Field label="Member email">
        <input
          type="email"
          value={form.email}
          onChange={(e) => setForm({ ...form, email: e.target.value })}
          required
        />
      </Field>
      <Field label="Role">
        <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
          <option value="admin">admin</option>
          <option value="member">member</option>
          <option value="viewer">viewer</option>
        </select>
      </Field>
      <button type="submit" disabled={add.busy}>
        Add member
      </button>
      <ErrorMessage error={add.error} />
    </form>
  );
}
