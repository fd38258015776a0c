import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** One measured window of `connections` keep-alive callers, each sending its next request on its answer. */
export interface LoadResult {
  /** 2xx answers per second over the window. */
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  /** Non-2xx answers, socket errors and timeouts; a valid cell has none. */
  failures: number;
  /** The first few failures, to print. */
  failureSamples: string[];
  /** The load generator's own CPU (user + system) over the window, as a share of one core. */
  loadgenCpu: number;
  seconds: number;
}

/** Per-request bound: a request that takes longer fails and its connection is replaced. */
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * A request still unanswered this long when the window closes counts as a failure of the cell. Its timeout
 * would fire only after the window, so a server that stopped answering (workerd once spun in its garbage
 * collector) would otherwise show 0 req/s and 0 failures. Answers at c=50 take well under 200 ms (p99).
 */
const STUCK_AT_WINDOW_END_MS = 1_000;

/** One response: its status, its head (status line and headers) and its body (chunked bodies left framed). */
export type Answer = { status: number; head: string; body: Buffer };

/**
 * One HTTP/1.1 keep-alive connection on a raw socket: it writes one request and parses one response
 * (content-length or chunked). A raw socket keeps the load generator's own cost per request small, since it
 * shares two cores with everything it measures.
 */
class Connection {
  private buffered: Buffer | undefined;
  private pending: { resolve: (a: Answer) => void; reject: (e: Error) => void } | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
      this.parse();
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  static async open(port: number): Promise<Connection> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await once(socket, 'connect');
    return new Connection(socket);
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  send(bytes: Buffer[]): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        this.fail(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending = {
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.cork();
      for (const chunk of bytes) this.socket.write(chunk);
      this.socket.uncork();
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(err: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    this.buffered = undefined;
    pending?.reject(err);
  }

  private parse(): void {
    const buf = this.buffered;
    if (!buf || !this.pending) return;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buf.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    const length = /\r\ncontent-length: *(\d+)/.exec(lower)?.[1];
    let total: number;
    if (length !== undefined) total = end + 4 + Number(length);
    else if (/\r\ntransfer-encoding: *chunked/.test(lower)) {
      const last = buf.indexOf('\r\n0\r\n\r\n', end);
      if (last < 0) return;
      total = last + 7;
    } else total = end + 4;
    if (buf.byteLength < total) return;
    this.buffered = buf.byteLength > total ? buf.subarray(total) : undefined;
    const pending = this.pending;
    this.pending = undefined;
    pending.resolve({ status, head, body: buf.subarray(end + 4, total) });
  }
}

/** Sends one request on a new connection and returns the answer. */
export async function sendOnce(port: number, bytes: Buffer[]): Promise<Answer> {
  const conn = await Connection.open(port);
  try {
    return await conn.send(bytes);
  } finally {
    conn.close();
  }
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/**
 * Drives `port` from `connections` callers for `warmupMs` (not counted), then measures `durationMs`.
 * `request()` gives the bytes of the next request, in chunks (e.g. a head signed per request and a shared body).
 * `atWindowStart` / `atWindowEnd` run just before and after the measured window.
 */
export async function runLoad(options: {
  port: number;
  connections: number;
  warmupMs: number;
  durationMs: number;
  request: () => Buffer[];
  atWindowStart?: () => Promise<void>;
  atWindowEnd?: () => Promise<void>;
}): Promise<LoadResult> {
  const conns = await Promise.all(
    Array.from({ length: options.connections }, () => Connection.open(options.port)),
  );
  const latencies: number[] = [];
  const failureSamples: string[] = [];
  let failures = 0;
  let measuring = false;
  let stop = false;
  const note = (what: string) => {
    if (!measuring) return;
    failures += 1;
    if (failureSamples.length < 5) failureSamples.push(what);
  };
  // When each caller's request in flight was sent (undefined: none in flight).
  const sentAt: (number | undefined)[] = conns.map(() => undefined);
  const loops = conns.map(async (first, i) => {
    let conn = first;
    while (!stop) {
      if (conn.closed) {
        conn = await Connection.open(options.port);
        conns[i] = conn;
      }
      const start = performance.now();
      sentAt[i] = start;
      try {
        const answer = await conn.send(options.request());
        if (answer.status >= 200 && answer.status < 300) {
          if (measuring) latencies.push(performance.now() - start);
        } else note(answer.head.split('\r\n')[0] ?? String(answer.status));
      } catch (err) {
        note(err instanceof Error ? err.message : String(err));
      } finally {
        sentAt[i] = undefined;
      }
    }
  });
  await new Promise((r) => setTimeout(r, options.warmupMs));
  await options.atWindowStart?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, options.durationMs));
  const windowEnd = performance.now();
  for (const at of sentAt)
    if (at !== undefined && windowEnd - at > STUCK_AT_WINDOW_END_MS)
      note(`no answer after ${((windowEnd - at) / 1000).toFixed(1)} s when the window closed`);
  measuring = false;
  const elapsedMs = windowEnd - t0;
  const cpu = process.cpuUsage(cpu0);
  await options.atWindowEnd?.();
  stop = true;
  await Promise.all(loops);
  for (const conn of conns) conn.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: (latencies.length * 1000) / elapsedMs,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    ok: latencies.length,
    failures,
    failureSamples,
    loadgenCpu: (cpu.user + cpu.system) / 1000 / elapsedMs,
    seconds: elapsedMs / 1000,
  };
}
