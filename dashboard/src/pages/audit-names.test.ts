import { describe, expect, it } from 'vitest';
import { auditActorLabel, auditRefLabel, targetNames } from './audit-names';

describe('auditRefLabel', () => {
  const names = new Map([
    ['usr_ada', 'ada@example.com'],
    ['key_ci', 'key ci'],
  ]);
  const ref = (type: string, id: string) => ({ type, id });

  it('names members by e-mail and keys by name', () => {
    expect(auditRefLabel(ref('user', 'usr_ada'), names)).toBe('ada@example.com');
    expect(auditRefLabel(ref('api_key', 'key_ci'), names)).toBe('key ci');
  });

  it('falls back to what the entry recorded: a deployment’s name, a former member’s e-mail', () => {
    expect(auditRefLabel(ref('deployment', 'dep_1'), names, { name: 'ocr-cls' })).toBe('ocr-cls');
    expect(
      auditRefLabel(ref('user', 'usr_gone'), names, { keys: 'revoke', email: 'grace@example.com' }),
    ).toBe('grace@example.com');
  });

  it('shows the type and id when nothing names it', () => {
    expect(auditRefLabel(ref('api_key', 'key_gone'), names)).toBe('api_key key_gone');
  });

  it('names an organisation a target by its name (a plan change records no name of its own)', () => {
    const targets = targetNames(names, [{ id: 'org_ada', name: "Ada's workspace" }]);
    expect(auditRefLabel(ref('org', 'org_ada'), targets, { from: 'free', to: 'pro' })).toBe(
      "Ada's workspace",
    );
    expect(auditRefLabel(ref('user', 'usr_ada'), targets)).toBe('ada@example.com');
    // The actors' map, which the filter offers, is left as it was.
    expect(names.has('org_ada')).toBe(false);
  });
});

describe('auditActorLabel', () => {
  const names = new Map([['usr_ada', 'ada@example.com']]);

  it('names a former member and a revoked key by the name the log gives them, not by id', () => {
    expect(auditActorLabel({ type: 'user', id: 'usr_gone', name: 'grace@example.com' }, names)).toBe(
      'grace@example.com',
    );
    expect(auditActorLabel({ type: 'api_key', id: 'key_old', name: 'ci' }, names)).toBe('key ci');
    expect(auditActorLabel({ type: 'user', id: 'usr_ada', name: 'ada@example.com' }, names)).toBe(
      'ada@example.com',
    );
    expect(auditActorLabel({ type: 'api_key', id: 'key_x', name: null }, names)).toBe('api_key key_x');
  });
});
