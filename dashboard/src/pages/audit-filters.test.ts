import { describe, expect, it } from 'vitest';
import { auditQuery, NO_FILTER } from './audit-filters';

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
});
