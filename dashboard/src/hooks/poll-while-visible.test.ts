import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type PageVisibility, pollWhileVisible } from './poll-while-visible';

/** A page whose visibility the test sets, telling listeners as a browser's document does. */
class TestPage extends EventTarget implements PageVisibility {
  hidden = false;
  setHidden(hidden: boolean) {
    this.hidden = hidden;
    this.dispatchEvent(new Event('visibilitychange'));
  }
}

/** A refresh whose answers the test releases one by one, counting calls and how many overlapped. */
const refresher = () => {
  const pending: (() => void)[] = [];
  const state = { calls: 0, inFlight: 0, mostInFlight: 0 };
  const refresh = () => {
    state.calls += 1;
    state.inFlight += 1;
    state.mostInFlight = Math.max(state.mostInFlight, state.inFlight);
    return new Promise<void>((resolve) =>
      pending.push(() => {
        state.inFlight -= 1;
        resolve();
      }),
    );
  };
  const answer = async () => {
    pending.shift()?.();
    await vi.advanceTimersByTimeAsync(0);
  };
  return { refresh, answer, state };
};

let page: TestPage;
let stop: () => void = () => {};
beforeEach(() => {
  vi.useFakeTimers();
  page = new TestPage();
});
afterEach(() => {
  stop();
  vi.useRealTimers();
});

describe('polling while the page is visible', () => {
  it('refreshes every interval after the previous answer', async () => {
    const r = refresher();
    stop = pollWhileVisible(r.refresh, 5_000, page);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(r.state.calls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.state.calls).toBe(1);
    await r.answer();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(r.state.calls).toBe(2);
  });

  it('never sends a refresh while the previous one is unanswered', async () => {
    const r = refresher();
    stop = pollWhileVisible(r.refresh, 5_000, page);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.state.calls).toBe(1);
    // Shown again while a refresh is out: still one at a time.
    page.setHidden(true);
    page.setHidden(false);
    expect(r.state.mostInFlight).toBe(1);
    await r.answer();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(r.state).toMatchObject({ calls: 2, mostInFlight: 1 });
  });

  it('asks nothing while the page is hidden, and refreshes at once when it is shown again', async () => {
    const r = refresher();
    stop = pollWhileVisible(r.refresh, 5_000, page);
    page.setHidden(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.state.calls).toBe(0);
    page.setHidden(false);
    expect(r.state.calls).toBe(1);
    await r.answer();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(r.state.calls).toBe(2);
  });

  it('keeps polling after a refresh fails', async () => {
    let calls = 0;
    stop = pollWhileVisible(
      async () => {
        calls += 1;
        throw new Error('network down');
      },
      1_000,
      page,
    );
    await vi.advanceTimersByTimeAsync(3_000);
    expect(calls).toBe(3);
  });

  it('stops when told, even with a refresh out', async () => {
    const r = refresher();
    stop = pollWhileVisible(r.refresh, 1_000, page);
    await vi.advanceTimersByTimeAsync(1_000);
    stop();
    await r.answer();
    page.setHidden(true);
    page.setHidden(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.state.calls).toBe(1);
  });
});
