import { SourceMap, type SourceMapPayload } from 'node:module';
import { WebSocket } from 'undici';

/** A V8 CPU profile as the DevTools protocol returns it (the `.cpuprofile` file format). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    hitCount?: number;
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/**
 * The V8 profiler of one workerd Worker, through workerd's `--inspector-addr` (the target's path is the
 * service name, e.g. ws://127.0.0.1:9229/edge). Durable Objects of the Worker run in its isolate, so the
 * profile covers them too.
 */
export async function openProfiler(inspectorUrl: string): Promise<{
  start(samplingIntervalUs: number): Promise<void>;
  stop(): Promise<CpuProfile>;
  close(): void;
}> {
  const ws = new WebSocket(inspectorUrl);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`could not open ${inspectorUrl}`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result);
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    async start(samplingIntervalUs) {
      await send('Profiler.enable');
      await send('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
      await send('Profiler.start');
    },
    async stop() {
      const result = (await send('Profiler.stop')) as { profile: CpuProfile };
      return result.profile;
    },
    close: () => ws.close(),
  };
}

/** Maps a position in the bundle back to its source (wrangler writes the bundle's source map). */
export type Locate = (url: string, line: number, column: number) => string | undefined;

/** A Locate for one bundle file name, from its source map (node:module's SourceMap). */
export function locateWithSourceMap(bundleName: string, sourceMapJson: string): Locate {
  const map = new SourceMap(JSON.parse(sourceMapJson) as SourceMapPayload);
  return (url, line, column) => {
    if (!url.endsWith(bundleName)) return undefined;
    const entry = map.findEntry(line, column) as { originalSource?: string; originalLine?: number };
    if (!entry.originalSource) return undefined;
    const source = entry.originalSource.replace(/^.*?((edge|protocol)\/src\/|node_modules\/)/, '$1');
    return `${source}:${(entry.originalLine ?? 0) + 1}`;
  };
}

/**
 * Self time by function, busiest first: `share  function  source:line`, shares of the samples in which the
 * isolate was running (not idle); the first line gives the idle share.
 */
export function topSelfTime(profile: CpuProfile, count: number, locate?: Locate): string[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const id of profile.samples ?? []) {
    const frame = byNode.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idle += 1;
      continue;
    }
    const file = frame.url.split('/').pop() ?? '';
    const where =
      locate?.(frame.url, frame.lineNumber, frame.columnNumber) ??
      (file ? `${file}:${frame.lineNumber + 1}` : '');
    const key = `${frame.functionName || '(anonymous)'}  ${where}`;
    self.set(key, (self.get(key) ?? 0) + 1);
    busy += 1;
  }
  const share = (n: number, of: number) => `${((100 * n) / Math.max(of, 1)).toFixed(1).padStart(5)}%`;
  return [
    `isolate idle ${share(idle, idle + busy).trim()} of ${idle + busy} samples; self time of the busy samples:`,
    ...[...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([key, n]) => `${share(n, busy)}  ${key}`),
  ];
}
