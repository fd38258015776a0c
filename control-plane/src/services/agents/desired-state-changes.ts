/** A subscription to one agent's next change; cancel it once it is no longer awaited. */
export interface ChangeSubscription {
  changed: Promise<void>;
  cancel(): void;
}

/**
 * Wakes the desired-state long polls held by this process when an agent's desired state changes.
 * In-process only: a poll held by another instance learns of the change when its wait ends (≤ 30 s), and
 * every heartbeat answer carries the current version too, so no change is missed for longer than that.
 */
export class DesiredStateChanges {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Subscribe before reading the version, so a change between the read and the wait is not lost. */
  subscribe(agentId: string): ChangeSubscription {
    let wake: () => void = () => {};
    const changed = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const set = this.waiters.get(agentId) ?? new Set();
    set.add(wake);
    this.waiters.set(agentId, set);
    return {
      changed,
      cancel: () => {
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(agentId) === set) this.waiters.delete(agentId);
      },
    };
  }

  /** Wakes every poll waiting on `agentId`; they re-read the state and answer if its version moved. */
  notify(agentId: string): void {
    const set = this.waiters.get(agentId);
    if (!set) return;
    this.waiters.delete(agentId);
    for (const wake of set) wake();
  }

  /** How many polls wait on `agentId` now. */
  waiting(agentId: string): number {
    return this.waiters.get(agentId)?.size ?? 0;
  }
}
