import { describe, expect, it } from 'vitest';
import { ID_PREFIXES, idFloorAt, isId, newId } from './ids.js';

describe('newId', () => {
  it('carries the type prefix and is recognised by isId', () => {
    const id = newId('org');
    expect(id).toMatch(/^org_/);
    expect(isId('org', id)).toBe(true);
    expect(isId('user', id)).toBe(false);
  });

  it('sorts by creation time', () => {
    const earlier = newId('audit', 1_700_000_000_000);
    const later = newId('audit', 1_700_000_000_001);
    expect(earlier < later).toBe(true);
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId('apiKey', 1)));
    expect(ids.size).toBe(1000);
  });
});

describe('idFloorAt', () => {
  it('sorts between the ids minted before a time and those minted at or after it', () => {
    const at = 1_700_000_000_000;
    const floor = idFloorAt(ID_PREFIXES.audit, at);
    for (let i = 0; i < 100; i++) {
      expect(newId('audit', at - 1) < floor).toBe(true);
      expect(newId('audit', at) >= floor).toBe(true);
      expect(newId('audit', at + 1) >= floor).toBe(true);
    }
  });
});
