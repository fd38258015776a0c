import { type FormEvent, useEffect, useState } from 'react';
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
 * The page's address for a filter applied at `now` (`?action=…&actor=…&within=…&since=…`, only what is set), so a
 * reload or Back shows the same entries. `since` is kept as the time it stood for when applied: a reload does
 * not move the window.
 */
export function auditSearch(filter: AuditFilter, now: number): string {
  const params = new URLSearchParams(auditQuery(filter, now));
  if (params.has('since')) params.set('within', filter.within);
  return params.toString();
}

/** The filter an address names (what the form shows) and the API query it stands for; junk reads as unset. */
export function auditFromSearch(search: URLSearchParams): {
  filter: AuditFilter;
  query: ReturnType<typeof auditQuery>;
} {
  const action = (search.get('action') ?? '').trim();
  const actor = search.get('actor') ?? '';
  const since = search.get('since') ?? '';
  const within = search.get('within') ?? '';
  const sinceOk = since !== '' && !Number.isNaN(Date.parse(since));
  const filter: AuditFilter = {
    action,
    actor,
    within: sinceOk && WINDOWS.some(([value]) => value === within && value !== '') ? within : '',
  };
  return {
    filter,
    query: {
      ...(action ? { action } : {}),
      ...(actor ? { actor } : {}),
      ...(sinceOk ? { since: new Date(since).toISOString() } : {}),
    },
  };
}

/**
 * The filter form. `actors` maps member and key ids to the names people read, so the list offers
 * `ada@example.com` and `key ci`, never an id.
 */
export function AuditFilters({
  actors,
  applied,
  onApply,
}: {
  actors: ReadonlyMap<string, string>;
  /** The filter the list shows (from the address): the form starts from it, and follows it on Back. */
  applied: AuditFilter;
  onApply: (filter: AuditFilter) => void;
}) {
  const [draft, setDraft] = useState(applied);
  const { action, actor, within } = applied;
  useEffect(() => setDraft({ action, actor, within }), [action, actor, within]);
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
