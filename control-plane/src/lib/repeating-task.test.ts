import { describe, expect, it } from 'vitest';
import { RepeatingTask } from './repeating-task.js';

describe('RepeatingTask', () => {
  it('never runs twice at once, turns kicks during a run into one more run, and stop waits for it', async () => {
    let active = 0;
    let most = 0;
    let runs = 0;
    let release: () => void = () => {};
    const task = new RepeatingTask(
      async () => {
        active += 1;
        most = Math.max(most, active);
        runs += 1;
        await new Promise<void>((r) => {
          release = r;
        });
        active -= 1;
      },
      { intervalMs: 60_000, onError: () => {} },
    );
    task.start();
    task.kick();
    task.kick();
    task.kick();
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(runs).toBe(2);
    const stopped = task.stop();
    release();
    await stopped;
    task.kick();
    expect([runs, most]).toEqual([2, 1]);
  });

  it('reports a failed run and keeps going', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const task = new RepeatingTask(
      async () => {
        runs += 1;
        if (runs === 1) throw new Error('boom');
      },
      { intervalMs: 60_000, onError: (e) => errors.push(e) },
    );
    task.start();
    await new Promise((r) => setTimeout(r, 10));
    task.kick();
    await task.stop();
    expect(runs).toBe(2);
    expect(String(errors[0])).toContain('boom');
  });
});
