import { SIGNATURE_HEADERS } from '@meridian/protocol';
import { Hono } from 'hono';
import type { LogLine, LogQuery, WorkloadLogReader } from '../agent/workload-logs.js';

/** The most lines one read answers (and the most a follow sends before the new ones). */
export const MAX_TAIL = 10_000;
/** Bytes a slow follower may have queued before lines are skipped for it (a marker line says how many). */
const FOLLOW_QUEUE_BYTES = 1024 * 1024;

type Parsed = { ok: true; query: LogQuery; follow: boolean } | { ok: false; field: string; message: string };

const INTEGER = /^\d{1,15}$/;

/** Reads tail, since_seq, since_ms and follow; a malformed one names itself. */
export function parseLogQuery(q: (name: string) => string | undefined): Parsed {
  const int = (name: string, max: number) => {
    const raw = q(name);
    if (raw === undefined) return { value: undefined };
    if (!INTEGER.test(raw) || Number(raw) > max)
      return { error: `${name} must be a whole number from 0 to ${max}` };
    return { value: Number(raw) };
  };
  const query: LogQuery = {};
  for (const [name, key, max] of [
    ['tail', 'tail', MAX_TAIL],
    ['since_seq', 'sinceSeq', Number.MAX_SAFE_INTEGER],
    ['since_ms', 'sinceMs', Number.MAX_SAFE_INTEGER],
  ] as const) {
    const parsed = int(name, max);
    if ('error' in parsed) return { ok: false, field: name, message: parsed.error ?? '' };
    query[key] = parsed.value;
  }
  const follow = q('follow');
  if (follow !== undefined && !['true', 'false', '1', '0'].includes(follow))
    return { ok: false, field: 'follow', message: 'follow must be true or false' };
  return {
    ok: true,
    query: { ...query, tail: query.tail ?? 100 },
    follow: follow === 'true' || follow === '1',
  };
}

/**
 * `GET /agent/v1/workloads/{id}/logs`: a workload's recent lines, for the control plane (its signature is
 * checked by the data plane's middleware, under the same per-agent key the edge uses). The signed
 * deployment header must name the workload read: a signature made for one workload (or for predictions
 * to a deployment) reads nothing else. `follow=true` answers NDJSON, the backlog then each new line,
 * until the caller goes. A read answers 404 when no line of the workload is held (none written yet, or forgotten).
 */
export function logRoutes(logs: WorkloadLogReader) {
  const app = new Hono();
  app.get('/agent/v1/workloads/:id/logs', (c) => {
    const id = c.req.param('id');
    if (c.req.header(SIGNATURE_HEADERS.deployment) !== id)
      return c.json({ error: 'the signature does not name this workload' }, 403);
    const parsed = parseLogQuery((name) => c.req.query(name));
    if (!parsed.ok) return c.json({ error: parsed.message, field: parsed.field }, 400);
    // Distinct from "no lines since": the control plane tells a user an ended replica's lines are gone. A
    // follow waits for lines instead (a workload just placed has written none yet).
    if (!parsed.follow && !logs.holds(id))
      return c.json({ error: 'no lines of this workload are held here' }, 404);
    const backlog = logs.read(id, parsed.query);
    if (!parsed.follow) return c.json({ lines: backlog });
    return new Response(followStream(logs, id, backlog), {
      headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' },
    });
  });
  return app;
}

function followStream(logs: WorkloadLogReader, id: string, backlog: LogLine[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let unsubscribe = () => {};
  let heartbeat: NodeJS.Timeout | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let last = backlog.at(-1)?.seq ?? 0;
        let skipped = 0;
        const send = (value: unknown) => controller.enqueue(encoder.encode(`${JSON.stringify(value)}\n`));
        for (const line of backlog) send(line);
        unsubscribe = logs.subscribe(id, (line) => {
          if (line.seq <= last) return;
          last = line.seq;
          if ((controller.desiredSize ?? 0) <= 0) {
            skipped += 1;
            return;
          }
          if (skipped > 0) send({ skipped });
          skipped = 0;
          send(line);
        });
        // An empty line now and then: a connection that broke is found by the write failing.
        heartbeat = setInterval(() => controller.enqueue(encoder.encode('\n')), 15_000).unref();
      },
      cancel() {
        unsubscribe();
        clearInterval(heartbeat);
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: FOLLOW_QUEUE_BYTES }),
  );
}
