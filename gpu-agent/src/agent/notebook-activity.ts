import { z } from 'zod';
import { UNTRACKED_MARKER } from '../runtimes/unix-relay.js';

/** The part of Jupyter's `GET <base>api/status` answer the agent reads. */
const JupyterStatus = z.object({ last_activity: z.string() });
/** The part of Jupyter's `GET <base>api/kernels` answer the agent reads. */
const JupyterKernels = z.array(z.object({ execution_state: z.string().optional() }));

export interface NotebookActivityOptions {
  /** The notebook server's URL on this host, ending in its base path (`http://127.0.0.1:41234/notebooks/nb_x/`). */
  endpoint: string;
  token: string;
  /** Least time between two reads of the server's status. Default 5 s. */
  refreshMs?: number;
  /** How long one read may take before it is given up. Default 2 s. */
  timeoutMs?: number;
  /** When a client last sent the server anything through the agent (ms), where the runtime sees it. */
  traffic?: () => number | undefined;
}

/**
 * A notebook server's last activity as Jupyter itself records it (every API call and kernel message that
 * reaches it through the edge; the agent's own polling is marked `no_track_activity` and does not count),
 * and "now" while any kernel is busy: a cell that runs for an hour sends nothing meanwhile, and must not
 * be culled as idle. Reads come from a cache so a slow or hung notebook never delays the
 * heartbeat: a read of a value older than `refreshMs` starts one refresh in the background and answers with
 * what it had, so the value sent lags by up to one heartbeat, which idle timeouts in minutes can afford.
 */
export class NotebookActivity {
  private value: string | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly options: NotebookActivityOptions) {}

  /** The last activity read (ISO 8601, UTC), or undefined before the first successful read. */
  get lastActivityAt(): string | undefined {
    if (Date.now() - this.checkedAt >= (this.options.refreshMs ?? 5_000)) void this.refresh();
    // Any request or WebSocket message through the relay counts too, page assets included (Jupyter's own
    // record misses those): a page that takes long to load is not idle.
    const traffic = this.options.traffic?.();
    const seen = traffic === undefined ? undefined : new Date(traffic).toISOString();
    if (seen !== undefined && (this.value === undefined || seen > this.value)) return seen;
    return this.value;
  }

  /** Reads the server's status now, one read at a time; never rejects, a failed read keeps the last value. */
  refresh(): Promise<void> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async read(): Promise<void> {
    this.checkedAt = Date.now();
    const [status, kernels] = await Promise.all([
      this.get('api/status', JupyterStatus),
      this.get('api/kernels', JupyterKernels),
    ]);
    const at = status ? new Date(status.last_activity) : undefined;
    const busy = kernels?.some((k) => k.execution_state === 'busy') ?? false;
    const latest = busy ? new Date() : at;
    if (!latest || Number.isNaN(latest.getTime())) return;
    // Never backwards: a busy kernel's "now" stays until the server records something later.
    if (this.value === undefined || latest.toISOString() > this.value) this.value = latest.toISOString();
  }

  /** One read of the server's API; undefined when it fails (unreachable, slow, not the expected JSON). */
  private async get<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
    try {
      const response = await fetch(`${this.options.endpoint}${path}?${UNTRACKED_MARKER}`, {
        headers: { authorization: `token ${this.options.token}` },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 2_000),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return undefined;
      }
      const parsed = schema.safeParse(await response.json());
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined; // keep the last value; a later read tries again
    }
  }
}
