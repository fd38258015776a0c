import { z } from 'zod';

/** The part of Jupyter's `GET <base>api/status` answer the agent reads. */
const JupyterStatus = z.object({ last_activity: z.string() });

export interface NotebookActivityOptions {
  /** The notebook server's URL on this host, ending in its base path (`http://127.0.0.1:41234/notebooks/nb_x/`). */
  endpoint: string;
  token: string;
  /** Least time between two reads of the server's status. Default 5 s. */
  refreshMs?: number;
  /** How long one read may take before it is given up. Default 2 s. */
  timeoutMs?: number;
}

/**
 * A notebook server's last activity as Jupyter itself records it (kernels and API calls; polling its status
 * endpoint does not count as activity). Reads come from a cache so a slow or hung notebook never delays the
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
    try {
      const response = await fetch(`${this.options.endpoint}api/status`, {
        headers: { authorization: `token ${this.options.token}` },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 2_000),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return;
      }
      const parsed = JupyterStatus.safeParse(await response.json());
      const at = parsed.success ? new Date(parsed.data.last_activity) : undefined;
      if (at && !Number.isNaN(at.getTime())) this.value = at.toISOString();
    } catch {
      // Unreachable, slow or not JSON: keep the last value; a later read tries again.
    }
  }
}
