import type { Schema } from '@meridian/sdk';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { AppContext, type AppContextValue } from '../api/context';
import { MemberRow } from './member-row';

const member = (userId: string, email: string) =>
  ({ userId, name: 'Sam', email, role: 'member', createdAt: '2026-12-01T09:30:00.000Z' }) as Schema<'Member'>;

// Rendered to markup, nothing loads: the client is never called.
const app = {
  client: {},
  session: {},
  role: 'owner',
  me: { user: { id: 'usr_me' } },
} as unknown as AppContextValue;

describe('a member row', () => {
  it('names its remove button and role choice by the address, so two members both named Sam are told apart', () => {
    const html = renderToStaticMarkup(
      <AppContext.Provider value={app}>
        <table>
          <tbody>
            <MemberRow member={member('usr_1', 'sam@a.example')} onChange={() => {}} />
            <MemberRow member={member('usr_2', 'sam@b.example')} onChange={() => {}} />
          </tbody>
        </table>
      </AppContext.Provider>,
    );
    expect([...html.matchAll(/aria-label="(Remove [^"]*)"/g)].map((m) => m[1])).toEqual([
      'Remove Sam (sam@a.example)',
      'Remove Sam (sam@b.example)',
    ]);
    expect(html).toContain('Role of Sam (sam@a.example)');
    expect(html).toContain('Role of Sam (sam@b.example)');
  });
});
