import type { Schema } from '@meridian/sdk';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { AppContext, type AppContextValue } from '../api/context';
import { formatTime } from '../lib/format';
import { ApiKeyRow, keyLabel } from './api-key-row';

const key = (over: Partial<Schema<'ApiKey'>>) =>
  ({
    id: 'key_1',
    name: 'ci',
    environment: 'live',
    start: 'mk_live_ab12',
    status: 'active',
    scopes: ['predict'],
    rateLimits: [],
    roleCap: 'owner',
    createdAt: '2026-12-01T09:30:00.000Z',
    createdBy: { id: 'usr_me', type: 'user' },
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    ...over,
  }) as Schema<'ApiKey'>;

// Rendered to markup, nothing loads: the client is never called.
const app = {
  client: {},
  session: {},
  role: 'owner',
  me: { user: { id: 'usr_me' } },
} as unknown as AppContextValue;
const rows = (...keys: Schema<'ApiKey'>[]) =>
  renderToStaticMarkup(
    <AppContext.Provider value={app}>
      <table>
        <tbody>
          {keys.map((k) => (
            <ApiKeyRow key={k.id} apiKey={k} onRevoked={() => {}} />
          ))}
        </tbody>
      </table>
    </AppContext.Provider>,
  );
const revokeNames = (html: string) => [...html.matchAll(/aria-label="(Revoke [^"]*)"/g)].map((m) => m[1]);

describe('an API key row', () => {
  it('names each revoke button by the key, so two keys both named ci are told apart', () => {
    const first = key({ id: 'key_1', start: 'mk_live_ab12', createdAt: '2026-12-01T09:30:00.000Z' });
    const second = key({ id: 'key_2', start: 'mk_live_Zx9_', createdAt: '2026-12-03T17:05:00.000Z' });
    const names = revokeNames(rows(first, second));
    expect(names).toEqual([
      `Revoke ci (mk_live_ab12…, created ${formatTime(first.createdAt)})`,
      `Revoke ci (mk_live_Zx9_…, created ${formatTime(second.createdAt)})`,
    ]);
    // What shows still begins the name, so a voice-control user saying "Revoke ci" reaches it.
    expect(rows(first)).toContain('>Revoke ci</button>');
  });

  it('shows when each key was made, the time its revoke button names', () => {
    const k = key({ createdAt: '2026-12-03T17:05:00.000Z' });
    expect(rows(k)).toContain(`<time dateTime="2026-12-03T17:05:00.000Z">${formatTime(k.createdAt)}</time>`);
    expect(keyLabel(k)).toBe(`ci (mk_live_ab12…, created ${formatTime(k.createdAt)})`);
  });
});
