import { describe, expect, it } from 'vitest';
import { QueueFull, WorkQueue } from './work-queue.js';

function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('WorkQueue', () => {
  it('runs at most `concurrency` jobs, refuses past a lane cap at once, and serves the high lane first', async () => {
    const queue = new WorkQueue(1, { high: 2, low: 1 });
    const order: string[] = [];
    const first = gate();
    const running = queue.run('low', async () => {
      order.push('running');
      await first.opened;
    });
    const low = queue.run('low', async () => {
      order.push('low');
    });
    await expect(queue.run('low', async () => {})).rejects.toBeInstanceOf(QueueFull);
    const highs = [1, 2].map((i) =>
      queue.run('high', async () => {
        order.push(`high ${i}`);
      }),
    );
    await expect(queue.run('high', async () => {})).rejects.toBeInstanceOf(QueueFull);
    expect(queue.queued).toBe(3);
    first.open();
    await Promise.all([running, low, ...highs]);
    expect(order).toEqual(['running', 'high 1', 'high 2', 'low']);
    expect(queue.queued).toBe(0);
  });

  it('frees its slot when a job throws', async () => {
    const queue = new WorkQueue(1, { high: 1, low: 1 });
    await expect(queue.run('high', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await queue.run('high', async () => 42)).toBe(42);
  });
});
