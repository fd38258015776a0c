import type { MeridianClient } from './client.js';
import { errorFromResponse } from './errors.js';
import type { Schema } from './types.js';

export type WorkloadLogLine = Schema<'WorkloadLogLine'>;
export type WorkloadLogs = Schema<'WorkloadLogs'>;

/** Whose lines: a deployment's replicas, or a notebook's Jupyter server. */
export type LogSource = { deployment: string } | { notebook: string };

export interface LogsOptions {
  /** Lines to show, merged across replicas (0–10,000; the server's default is 100). */
  tail?: number;
  /** An RFC 3339 time or a duration back from now (`90s`, `10m`, `2h`, `1d`). */
  since?: string;
  signal?: AbortSignal;
}

export interface FollowOptions extends LogsOptions {
  /** Told when one replica's stream ends (its agent went away, the replica was removed). */
  onReplicaEnded?: (event: { replica: string; reason: string }) => void;
}

const pathOf = (source: LogSource) =>
  'deployment' in source
    ? `/v1/deployments/${encodeURIComponent(source.deployment)}/logs`
    : `/v1/notebooks/${encodeURIComponent(source.notebook)}/logs`;

/** The recent lines of a deployment's replicas or a notebook's server, oldest first, with the replicas asked. */
export function logs(
  client: MeridianClient,
  source: LogSource,
  options: LogsOptions = {},
): Promise<WorkloadLogs> {
  const query = {
    ...(options.tail === undefined ? {} : { tail: options.tail }),
    ...(options.since === undefined ? {} : { since: options.since }),
  };
  const signal = options.signal ? { signal: options.signal } : {};
  return 'deployment' in source
    ? client.request('get', '/v1/deployments/{id}/logs', {
        path: { id: source.deployment },
        query,
        ...signal,
      })
    : client.request('get', '/v1/notebooks/{id}/logs', { path: { id: source.notebook }, query, ...signal });
}

/**
 * Follows the lines as they are written (Server-Sent Events): the last `tail` first, then each new one, until
 * the loop is left (`break`) or `signal` aborts; the connection is closed either way.
 */
export async function* followLogs(
  client: MeridianClient,
  source: LogSource,
  options: FollowOptions = {},
): AsyncGenerator<WorkloadLogLine, void, undefined> {
  const query = new URLSearchParams({ follow: 'true' });
  if (options.tail !== undefined) query.set('tail', String(options.tail));
  if (options.since !== undefined) query.set('since', options.since);
  const done = new AbortController();
  const abort = () => done.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const res = await client.authorized(`${client.baseUrl}${pathOf(source)}?${query}`, {
      headers: { accept: 'text/event-stream' },
      signal: done.signal,
    });
    if (!res.ok || !res.body) throw await errorFromResponse(res);
    for await (const event of serverSentEvents(res.body, done.signal)) {
      if (event.event === 'line') yield JSON.parse(event.data) as WorkloadLogLine;
      else if (event.event === 'replica-ended')
        options.onReplicaEnded?.(JSON.parse(event.data) as { replica: string; reason: string });
    }
  } catch (err) {
    if (done.signal.aborted) return;
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', abort);
    done.abort();
  }
}

/** Parses a text/event-stream body into events (comments, the server's heartbeats, are skipped). */
export async function* serverSentEvents(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<{ event: string; data: string; id?: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replaceAll('\r\n', '\n');
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        let event = 'message';
        let id: string | undefined;
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') id = value;
        }
        if (data.length > 0) yield { event, data: data.join('\n'), ...(id === undefined ? {} : { id }) };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
