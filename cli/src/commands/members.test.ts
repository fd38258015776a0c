import { describe, expect, it } from 'vitest';
import { CliError } from '../context.js';
import { memberLabel, parseRole, ROLES } from './members.js';

describe('member roles', () => {
  it('takes each role the API knows, as written', () => {
    for (const role of ROLES) expect(parseRole(role)).toBe(role);
  });

  it('refuses any other role as a usage error that lists the roles', () => {
    for (const bad of ['', 'Owner', 'superuser', 'admin ']) {
      const refused = (() => {
        try {
          parseRole(bad);
        } catch (err) {
          return err;
        }
      })();
      expect(refused).toBeInstanceOf(CliError);
      expect((refused as CliError).exitCode).toBe(2);
      expect((refused as CliError).message).toBe(
        `Unknown role ${bad}: a role is one of owner, admin, member, viewer`,
      );
    }
  });

  it('names a member by name and e-mail', () => {
    expect(memberLabel({ name: 'Grace', email: 'grace@example.com' })).toBe('Grace (grace@example.com)');
  });
});
