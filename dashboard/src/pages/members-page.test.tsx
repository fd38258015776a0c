import type { Schema } from '@meridian/sdk';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { AppContext, type AppContextValue } from '../api/context';
import type { Paged } from '../hooks/use-paged';
import { MembersList } from './members-page';

type Member = Schema<'Member'>;
const member = (n: number): Member => ({
  userId: `usr_${n}`,
  email: `m${n}@example.com`,
  name: `m${n}`,
  role: 'member',
  createdAt: '2026-12-01T09:30:00.000Z',
});

// Rendered to markup, nothing loads: the client is never called.
const app = {
  client: {},
  session: {},
  role: 'owner',
  me: { user: { id: 'usr_0' } },
} as unknown as AppContextValue;
const paged = (items: Member[], page: number, hasNext: boolean): Paged<Member> => ({
  items,
  error: undefined,
  loading: false,
  page,
  hasNext,
  next() {},
  previous() {},
  reload() {},
  refresh: async () => {},
});
const render = (list: Paged<Member>) =>
  renderToStaticMarkup(
    <AppContext.Provider value={app}>
      <MembersList list={list} onChange={() => () => {}} />
    </AppContext.Provider>,
  );
const pager = (html: string) => /<nav class="pager" aria-label="Members pages">(.*?)<\/nav>/.exec(html)?.[1];

describe('the members list', () => {
  it('shows a page of members with a pager whose Next leads to the rest', () => {
    const html = render(paged([member(1), member(2)], 1, true));
    expect(html).toContain('<td>m1@example.com</td>');
    expect(html).toContain('<td>m2@example.com</td>');
    expect(pager(html)).toBe(
      '<button type="button" disabled="">Previous</button><span>Page 1</span><button type="button">Next</button>',
    );
  });

  it('goes back from a later page, and has no Next on the last', () => {
    const html = render(paged([member(21)], 2, false));
    expect(html).toContain('<td>m21@example.com</td>');
    expect(pager(html)).toBe(
      '<button type="button">Previous</button><span>Page 2</span><button type="button" disabled="">Next</button>',
    );
  });

  it('shows no pager when every member fits on one page', () => {
    expect(pager(render(paged([member(1)], 1, false)))).toBeUndefined();
  });
});
