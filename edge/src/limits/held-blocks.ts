// Blocks the limiter granted and the isolate has not given up yet. A window whose every unit is granted is
// not necessarily used up: an isolate whose callers went quiet may still hold unspent units, and gives them
// back only when its lease ends. While such a block is out, a refusal is not final: the refused isolate
// waits for it (LeaseBook.admit) instead of answering "quota used up until next month" with units left.
//
// Only blocks of more than one unit are tracked: a one-unit block goes to an isolate with a caller waiting
// for it and is spent at once. Memory only: after a restart nothing is tracked and refusals are immediate,
// as they were before tracking existed.

/** How long past its lease end a block still counts as held: its isolate gives it back just after. */
export const HELD_GRACE_MS = 2_000;

interface HeldBlock {
  /** The isolate that holds it. */
  isolateId: string;
  scope: string;
  policy: string;
  startMs: number;
  /** When the isolate's lease on it ends (limiter clock). */
  untilMs: number;
}

export class HeldBlocks {
  private readonly blocks = new Map<string, HeldBlock>();

  open(id: string, block: HeldBlock, nowMs: number): void {
    this.prune(nowMs);
    this.blocks.set(id, block);
  }

  /** The isolate gave these blocks up (unspent units returned, or every unit spent). */
  close(ids: readonly string[]): void {
    for (const id of ids) this.blocks.delete(id);
  }

  /**
   * When the last block of this window that another isolate than `asking` may still hold units of ends;
   * undefined: none is out. The asking isolate's own blocks do not count: it asks because it has spent them.
   */
  heldElsewhereUntil(
    scope: string,
    policy: string,
    startMs: number,
    asking: string,
    nowMs: number,
  ): number | undefined {
    this.prune(nowMs);
    let latest: number | undefined;
    for (const block of this.blocks.values()) {
      if (block.isolateId === asking) continue;
      if (block.scope !== scope || block.policy !== policy || block.startMs !== startMs) continue;
      latest = Math.max(latest ?? 0, block.untilMs);
    }
    return latest;
  }

  /** Forgets blocks well past their lease: their isolate died with them (the stranding bound covers it). */
  private prune(nowMs: number): void {
    for (const [id, block] of this.blocks) if (nowMs > block.untilMs + HELD_GRACE_MS) this.blocks.delete(id);
  }
}
