import { describe, expect, it } from 'vitest';
import { pickOrg } from './auth.js';

describe('orgs switch', () => {
  const orgs = [
    { id: 'org_a', name: 'Research', role: 'owner' },
    { id: 'org_b', name: 'Research', role: 'viewer' },
    { id: 'org_c', name: 'Acme', role: 'admin' },
  ];

  it('finds an organisation by id or by its exact name', () => {
    expect(pickOrg(orgs, 'org_b')).toBe(orgs[1]);
    expect(pickOrg(orgs, 'Acme')).toBe(orgs[2]);
  });

  it('asks for the id when two organisations share the name, and says when none has it', () => {
    expect(() => pickOrg(orgs, 'Research')).toThrow(
      '2 of your organisations are named Research: give its id (meridian orgs)',
    );
    expect(() => pickOrg(orgs, 'acme')).toThrow('You belong to no organisation named acme');
  });
});
