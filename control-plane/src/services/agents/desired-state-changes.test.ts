import { describe, expect, it } from 'vitest';
import { DesiredStateChanges } from './desired-state-changes.js';

describe('DesiredStateChanges', () => {
  it('wakes every subscriber of the agent that changed and none of another', async () => {
    const changes = new DesiredStateChanges();
    const woken: string[] = [];
    const a1 = changes.subscribe('agt_a');
    const a2 = changes.subscribe('agt_a');
    const b = changes.subscribe('agt_b');
    void a1.changed.then(() => woken.push('a1'));
    void a2.changed.then(() => woken.push('a2'));
    void b.changed.then(() => woken.push('b'));
    changes.notify('agt_a');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(woken.sort()).toEqual(['a1', 'a2']);
    expect(changes.waiting('agt_a')).toBe(0);
    expect(changes.waiting('agt_b')).toBe(1);
  });

  it('forgets a cancelled subscription, so polls that ended leave nothing behind', () => {
    const changes = new DesiredStateChanges();
    const sub = changes.subscribe('agt_a');
    expect(changes.waiting('agt_a')).toBe(1);
    sub.cancel();
    sub.cancel();
    expect(changes.waiting('agt_a')).toBe(0);
    changes.notify('agt_a');
  });
});
