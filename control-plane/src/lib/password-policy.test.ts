import { describe, expect, it } from 'vitest';
import { passwordProblem } from './password-policy.js';

describe('password policy', () => {
  const email = 'ada.lovelace@example.com';

  it.each([
    ['aaaaaaaaaa', 'different characters'],
    ['abababababab', 'different characters'],
    ['1234567890', 'data breaches'],
    ['password123', 'data breaches'],
    ['QWERTYUIOP', 'data breaches'],
    ['ada.lovelace@example.com', 'e-mail'],
    ['my ada.lovelace@example.com!', 'e-mail'],
    ['ADA.LOVELACE2024', 'e-mail'],
  ])('refuses %s', (password, reason) => {
    expect(passwordProblem(password, email)).toContain(reason);
  });

  it('accepts a long passphrase that is in no list', () => {
    expect(passwordProblem('correct horse battery', email)).toBeUndefined();
    expect(passwordProblem('violet-harbour-73-kestrel', email)).toBeUndefined();
  });
});
