import type { AddressInfo } from 'node:net';

/** What a bench server child tells the parent once it accepts connections. */
export interface ReadyMessage {
  port: number;
  /** Headers every benchmarked request carries (the control plane's bearer token). */
  headers: Record<string, string>;
}

/** Sends the bound port to the parent over IPC, then closes the channel so it costs nothing during the run. */
export function announceReady(info: AddressInfo, headers: Record<string, string> = {}): void {
  const message: ReadyMessage = { port: info.port, headers };
  if (!process.send)
    throw new Error('bench servers run as children of bench/auth-me.ts (an IPC channel is needed)');
  process.send(message, () => process.disconnect());
}
