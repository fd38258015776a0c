import { describe, expect, it } from 'vitest';
import { condition } from './alerts.js';

describe('alert conditions', () => {
  it('says a rule in words, with the direction its metric fires in', () => {
    const rule = { metric: 'error_rate', threshold: 0.05, windowSeconds: 300, forSeconds: 60 } as const;
    expect(condition(rule)).toBe('error_rate > 0.05 over 5m, for 1m');
    expect(condition({ ...rule, metric: 'ready_replicas', threshold: 2, forSeconds: 0 })).toBe(
      'ready_replicas < 2 over 5m',
    );
  });
});
