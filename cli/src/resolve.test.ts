import { describe, expect, it } from 'vitest';
import { CliError } from './context.js';
import { pickNamed } from './resolve.js';

describe('a resource named on the command line', () => {
  const noun = { one: 'alert rule', many: 'alert rules', list: 'meridian alerts list' };
  const rules = [
    { id: 'alr_a', name: 'errors' },
    { id: 'alr_b', name: 'errors' },
    { id: 'alr_c', name: 'latency' },
  ];
  const refusal = (ref: string) => {
    try {
      pickNamed(rules, ref, noun);
    } catch (err) {
      return err;
    }
    return undefined;
  };

  it('is found by its id, or by a name no other one has', () => {
    expect(pickNamed(rules, 'alr_b', noun)).toBe(rules[1]);
    expect(pickNamed(rules, 'latency', noun)).toBe(rules[2]);
  });

  it('is refused, with every id, when several share the name, rather than the first listed being picked', () => {
    const refused = refusal('errors');
    expect(refused).toBeInstanceOf(CliError);
    expect((refused as CliError).message).toBe(
      '2 alert rules are named errors (alr_a, alr_b): give the id of the one you mean',
    );
  });

  it('says where to look when none has the name', () => {
    expect((refusal('disk') as CliError).message).toBe('No alert rule named disk (meridian alerts list)');
  });
});
