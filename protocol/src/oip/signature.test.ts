import { describe, expect, it } from 'vitest';
import { canonicalSigningString, parseUsageHeaders, usageHeaders } from './signature.js';

const fields = {
  method: 'POST',
  target: '/v2/models/dep_a/infer',
  bodySha256Hex: 'ab'.repeat(32),
  deploymentId: 'dep_a',
  timestamp: 1_764_000_000,
  nonce: 'req_1.0000',
  keyGeneration: 1,
  contentType: 'application/json',
  inferenceHeaderContentLength: '',
  usage: { orgId: 'org_a', keyId: 'key_a', userId: null },
};

describe('the canonical signing string', () => {
  it('is unchanged for a call without an Idempotency-Key, so edges and agents of either age agree on it', () => {
    expect(canonicalSigningString(fields).split('\n')).toEqual([
      'MERIDIAN-HMAC-SHA256-V2',
      'POST',
      '/v2/models/dep_a/infer',
      'ab'.repeat(32),
      'dep_a',
      '1764000000',
      'req_1.0000',
      '1',
      'application/json',
      '',
      'org_a',
      'key_a',
      '',
    ]);
  });

  it('signs a key as one more line under its own tag, and refuses a key of another shape', () => {
    const keyed = canonicalSigningString({ ...fields, usage: { ...fields.usage, idempotencyKey: 'k-1' } });
    const lines = keyed.split('\n');
    expect(lines[0]).toBe('MERIDIAN-HMAC-SHA256-V3');
    expect(lines.at(-1)).toBe('k-1');
    expect(lines.slice(1, -1)).toEqual(canonicalSigningString(fields).split('\n').slice(1));
    for (const bad of ['', 'a b', 'x'.repeat(256), 'k\n1'])
      expect(() =>
        canonicalSigningString({ ...fields, usage: { ...fields.usage, idempotencyKey: bad } }),
      ).toThrow('invalid idempotency key');
  });

  it('carries the key through the usage headers and back', () => {
    const usage = { orgId: 'org_a', keyId: null, userId: 'usr_a', idempotencyKey: 'k-1' };
    const headers = usageHeaders(usage);
    expect(headers['x-meridian-idempotency-key']).toBe('k-1');
    expect(parseUsageHeaders((name) => headers[name])).toEqual(usage);
    const plain = usageHeaders({ orgId: 'org_a', keyId: 'key_a', userId: null });
    expect(parseUsageHeaders((name) => plain[name])).toEqual({
      orgId: 'org_a',
      keyId: 'key_a',
      userId: null,
    });
  });
});
