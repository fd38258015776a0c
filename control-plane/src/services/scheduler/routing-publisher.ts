import type { RoutingSnapshot } from '@meridian/protocol';
import { z } from 'zod';

/** Where the scheduler sends each new routing snapshot for the edge to read. */
export interface RoutingPublisher {
  publish(snapshot: RoutingSnapshot): Promise<void>;
}

export interface WorkersKvRoutingPublisherOptions {
  accountId: string;
  namespaceId: string;
  /** A Cloudflare API token with the Workers KV Storage Write permission. */
  apiToken: string;
  /** The KV key the edge reads; `routing-snapshot` when unset. */
  key?: string;
  fetch?: typeof fetch;
  /** `https://api.cloudflare.com/client/v4` when unset. */
  apiBase?: string;
}

/** A write Workers KV refused (`status` set) or that got no answer at all (`status` undefined). */
export class RoutingPublishError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'RoutingPublishError';
  }
}

const DEFAULT_API_BASE = 'https://api.cloudflare.com/client/v4';
const DEFAULT_KEY = 'routing-snapshot';

// Cloudflare's v4 envelope; only the error messages matter here.
const CloudflareAnswer = z.object({
  errors: z.array(z.object({ code: z.number().optional(), message: z.string() })).optional(),
});

/**
 * Writes the snapshot JSON to one Workers KV key through Cloudflare's REST API ("Write key-value pair with
 * optional metadata"), with `{version}` as the key's metadata so a reader can tell the version without parsing
 * the value. It never writes a version older than (or equal to) one it wrote before; KV has no compare-and-swap,
 * so that guards only against this publisher's own late writes, not another process writing the same key.
 */
export class WorkersKvRoutingPublisher implements RoutingPublisher {
  private readonly url: string;
  private readonly apiToken: string;
  private readonly send: (request: Request) => Promise<Response>;
  private lastWritten = -1;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: WorkersKvRoutingPublisherOptions) {
    const base = (options.apiBase ?? DEFAULT_API_BASE).replace(/\/+$/, '');
    const segment = encodeURIComponent;
    this.url = `${base}/accounts/${segment(options.accountId)}/storage/kv/namespaces/${segment(options.namespaceId)}/values/${segment(options.key ?? DEFAULT_KEY)}`;
    this.apiToken = options.apiToken;
    // Called as a plain function: some runtimes refuse a `fetch` invoked with another object as `this`.
    const fetchFn = options.fetch ?? globalThis.fetch;
    this.send = (request) => fetchFn(request);
  }

  publish(snapshot: RoutingSnapshot): Promise<void> {
    // One write at a time: a slow write of version 5 must not land after a write of version 6 begun later.
    const write = this.queue.then(() => this.write(snapshot));
    this.queue = write.catch(() => undefined);
    return write;
  }

  private async write(snapshot: RoutingSnapshot): Promise<void> {
    if (snapshot.version <= this.lastWritten) return;
    const body = new FormData();
    body.set('value', JSON.stringify(snapshot));
    body.set('metadata', JSON.stringify({ version: snapshot.version }));
    const request = new Request(this.url, {
      method: 'PUT',
      headers: { authorization: `Bearer ${this.apiToken}` },
      body,
    });
    let response: Response;
    try {
      response = await this.send(request);
    } catch (err) {
      const cause = err instanceof Error ? err.message : String(err);
      throw new RoutingPublishError(
        this.redact(`Workers KV write of routing snapshot ${snapshot.version} got no answer: ${cause}`),
        undefined,
      );
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      throw new RoutingPublishError(
        this.redact(
          `Workers KV refused routing snapshot ${snapshot.version} with ${response.status}: ${errorMessages(text)}`,
        ),
        response.status,
      );
    }
    this.lastWritten = snapshot.version;
  }

  /** The token must never reach a log, whatever an error message happens to echo. */
  private redact(message: string): string {
    return this.apiToken ? message.replaceAll(this.apiToken, '[redacted]') : message;
  }
}

function errorMessages(text: string): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'the answer was not Cloudflare JSON';
  }
  const errors = CloudflareAnswer.safeParse(json).data?.errors ?? [];
  if (errors.length === 0) return 'Cloudflare gave no error message';
  return errors.map((e) => (e.code === undefined ? e.message : `${e.message} (code ${e.code})`)).join('; ');
}
