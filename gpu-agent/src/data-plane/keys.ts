import type { DataPlaneKey } from '@meridian/protocol';

/**
 * How long the key a rotation replaced is still accepted: the edge learns the new generation with its next
 * routing refresh (seconds), and requests signed just before are still in flight.
 */
export const PREVIOUS_KEY_GRACE_MS = 120_000;

type Held = { generation: number; key: Uint8Array };

/**
 * This agent's data-plane keys: the current one, and the one a rotation replaced for PREVIOUS_KEY_GRACE_MS.
 * Before the first key is known every request is refused (401).
 */
export class DataPlaneKeys {
  private current: Held | undefined;
  private previous: (Held & { until: number }) | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes `next` as the current key; the one it replaces stays accepted for the grace period. */
  update(next: DataPlaneKey): void {
    if (this.current?.generation === next.generation) return;
    if (this.current && this.current.generation < next.generation)
      this.previous = { ...this.current, until: this.now() + PREVIOUS_KEY_GRACE_MS };
    this.current = { generation: next.generation, key: Buffer.from(next.key, 'hex') };
  }

  /** The key of `generation` while it is accepted. */
  get(generation: number): Uint8Array | undefined {
    if (this.current?.generation === generation) return this.current.key;
    if (this.previous?.generation === generation && this.now() <= this.previous.until)
      return this.previous.key;
    return undefined;
  }

  get generation(): number | undefined {
    return this.current?.generation;
  }
}
