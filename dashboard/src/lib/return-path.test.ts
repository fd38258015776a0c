import { describe, expect, it } from 'vitest';
import { returnPath, withNext } from './return-path';

const q = (s: string) => new URLSearchParams(s);

describe('returnPath', () => {
  it('returns a signed-out visitor to the address they opened, query and all', () => {
    expect(returnPath('/invitations', q('token=abc'))).toBe('/invitations?token=abc');
    expect(returnPath('/deployments/dep_1', q(''))).toBe('/deployments/dep_1');
  });

  it('on the login and sign-up forms, follows the address carried between them', () => {
    expect(returnPath('/signup', q('next=%2Finvitations%3Ftoken%3Dabc'))).toBe('/invitations?token=abc');
    expect(returnPath('/login', q('next=/models'))).toBe('/models');
    expect(returnPath('/signup', q(''))).toBeUndefined();
  });

  it('never sends a fresh login to another origin', () => {
    for (const next of ['//evil.example/x', 'https://evil.example', '/\\evil.example', 'javascript:alert(1)'])
      expect(returnPath('/signup', q(`next=${encodeURIComponent(next)}`))).toBeUndefined();
  });
});

describe('withNext', () => {
  it('carries the address to come back to, and nothing when it is the home page', () => {
    expect(withNext('/signup', '/invitations?token=a b')).toBe('/signup?next=%2Finvitations%3Ftoken%3Da%20b');
    expect(withNext('/signup', '/')).toBe('/signup');
    expect(withNext('/login', undefined)).toBe('/login');
  });
});
