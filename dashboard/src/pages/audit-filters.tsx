import { type FormEvent, useState } from 'react';
import { Field } from '../components/field';

/** What the audit page shows: one action, one member or key, and how far back (all when empty). */
export interface AuditFilter {
  action: string;
  actor: string;
  /** Seconds back from when the filter was applied; '' for all time. */
  within: string;
}

export const NO_FILTER: AuditFilter = { action: '', actor: '', within: '' };

const WINDOWS: [string, string][] = [
  ['', 'any time'],
  ['3600', 'the last hour'],
  ['86400', 'the last 24 hours'],
  ['604800', 'the last 7 days'],
  ['2592000', 'the last 30 days'],
];

/** The API query for a filter applied at `now`: only the filters that are set. */
export function auditQuery(filter: AuditFilter, now: number) {
  const action = filter.action.trim();
  return {
    ...(action ? { action } : {}),
    ...(filter.actor ? { actor: filter.actor } : {}),
    ...(filter.within ? { since: new Date(now - Number(filter.within) * 1000).toISOString() } : {}),
  };
}

/**
 * The filter form. `actors` maps member and key ids to the names people read, so the list offers
 * `ada@example.com` and `key ci`, never an id.
 */
export function AuditFilters({
  actors,
  onApply,
}: {
  actors: ReadonlyMap<string, string>;
  onApply: (filter: AuditFilter) => void;
}) {
  const [draft, setDraft] = useState(NO_FILTER);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(draft);
  };
  const sorted = [...actors].sort((a, b) => a[1].localeCompare(b[1]));
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Filter the audit log">
      <Field label="Action" hint="e.g. api_key.create, model.create">
        <input value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })} />
      </Field>
      <Field label="By">
        <select value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })}>
          <option value="">anyone</option>
          {sorted.map(([id, name]) => (
            <option key={id} value={id}>
              {name}
            </option>
          ))}
        </select>
      </Field>
      <Field label="When">
        <select value={draft.within} onChange={(e) => setDraft({ ...draft, within: e.target.value })}>
          {WINDOWS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </Field>
      <button type="submit">Filter</button>
    </form>
  );
}
