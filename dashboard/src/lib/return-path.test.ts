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

  it('refuses a path the URL parser would read as another origin, so the login never throws on it', () => {
    // Browsers drop tabs and newlines and read `\` as `/`: each of these is `//evil.example` to history.replaceState,
    // which throws on another origin and left the fresh login on the form's address.
    for (const next of ['/\t/evil.example', '/\n/evil.example', '/\r\n/evil.example', '\t//evil.example'])
      expect(returnPath('/signup', q(`next=${encodeURIComponent(next)}`))).toBeUndefined();
    expect(returnPath('/login', q(`next=${encodeURIComponent('/models?x=1#top')}`))).toBe('/models?x=1#top');
  });
});

describe('withNext', () => {
  it('carries the address to come back to, and nothing when it is the home page', () => {
    expect(withNext('/signup', '/invitations?token=a b')).toBe('/signup?next=%2Finvitations%3Ftoken%3Da%20b');
    expect(withNext('/signup', '/')).toBe('/signup');
    expect(withNext('/login', undefined)).toBe('/login');
  });
});
