import { describe, expect, it } from 'vitest';
import { auditFromSearch, auditQuery, auditSearch, NO_FILTER } from './audit-filters';

const NOW = Date.parse('2026-05-01T12:00:00Z');

describe('the audit page filter', () => {
  it('asks for everything when nothing is chosen', () => {
    expect(auditQuery(NO_FILTER, NOW)).toEqual({});
    expect(auditQuery({ ...NO_FILTER, action: '   ' }, NOW)).toEqual({});
  });

  it('sends the action, the member or key, and a window back from when it was applied', () => {
    expect(auditQuery({ action: ' model.create ', actor: 'usr_ada', within: '3600' }, NOW)).toEqual({
      action: 'model.create',
      actor: 'usr_ada',
      since: '2026-05-01T11:00:00.000Z',
    });
    expect(auditQuery({ ...NO_FILTER, within: '604800' }, NOW)).toEqual({
      since: '2026-04-24T12:00:00.000Z',
    });
  });

  it('keeps an applied filter in the address, so a reload or Back finds the same entries', () => {
    const search = auditSearch({ action: ' model.create ', actor: 'usr_ada', within: '3600' }, NOW);
    expect(Object.fromEntries(new URLSearchParams(search))).toEqual({
      action: 'model.create',
      actor: 'usr_ada',
      since: '2026-05-01T11:00:00.000Z',
      within: '3600',
    });
    // Read back later, it asks for the same window, not one moved on from the reload.
    expect(auditFromSearch(new URLSearchParams(search))).toEqual({
      filter: { action: 'model.create', actor: 'usr_ada', within: '3600' },
      query: { action: 'model.create', actor: 'usr_ada', since: '2026-05-01T11:00:00.000Z' },
    });
    expect(auditSearch(NO_FILTER, NOW)).toBe('');
    expect(auditFromSearch(new URLSearchParams(''))).toEqual({ filter: NO_FILTER, query: {} });
  });

  it('reads a hand-edited address: a since that is no time, or a window it does not offer, is unset', () => {
    expect(auditFromSearch(new URLSearchParams('since=yesterday&within=3600&actor=usr_x'))).toEqual({
      filter: { action: '', actor: 'usr_x', within: '' },
      query: { actor: 'usr_x' },
    });
    expect(auditFromSearch(new URLSearchParams('since=2026-05-01T11:00:00Z&within=7')).filter.within).toBe(
      '',
    );
  });
});
