import {
  type AgentHeartbeat,
  type AgentLoadReport,
  AgentMonitoringAck,
  type AgentMonitoringReport,
  type AgentRegistration,
  DeletedNotebooks,
  type DeletedNotebooksQuery,
  DesiredStatePoll,
  HeartbeatResponse,
  PredictionUsageAck,
  type PredictionUsageReport,
  RegistrationResponse,
  UsageAck,
  type UsageReport,
} from '@meridian/protocol';
import { z } from 'zod';

/** A 204 (or any 2xx) whose body nobody reads. */
const NoContent = z.unknown();

/**
 * Why a call to the control plane failed. `network`: no answer (refused, reset, timed out); `http`: an
 * answer with a non-2xx status; `invalid-response`: a 2xx whose body is not what the protocol says.
 */
export type ApiError =
  | { kind: 'network'; message: string }
  | { kind: 'http'; status: number; code: string | undefined; message: string }
  | { kind: 'invalid-response'; message: string };

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** Whether the same call may succeed later unchanged: no answer, a 5xx or 429. A 4xx will not. */
export function isRetryable(error: ApiError): boolean {
  if (error.kind === 'network') return true;
  return error.kind === 'http' && (error.status >= 500 || error.status === 429);
}

export function describeApiError(error: ApiError): string {
  return error.kind === 'http' ? `HTTP ${error.status}: ${error.message}` : `${error.kind}: ${error.message}`;
}

export interface ApiClientOptions {
  baseUrl: string;
  /** The agent credential; absent before registration. */
  credential?: string;
  fetch?: typeof fetch;
  /** Per call, except long polls, which add their wait to it. */
  timeoutMs?: number;
}

const messageOf = (err: unknown) =>
  err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);

/** The agent's side of the agent protocol; never throws, every answer is parsed with the protocol schemas. */
export class ApiClient {
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** A client that sends `credential` on every call. */
  withCredential(credential: string): ApiClient {
    return new ApiClient({ ...this.options, credential });
  }

  register(body: AgentRegistration): Promise<ApiResult<RegistrationResponse>> {
    return this.call('POST', '/agent/v1/register', RegistrationResponse, { body });
  }

  heartbeat(body: AgentHeartbeat): Promise<ApiResult<HeartbeatResponse>> {
    return this.call('POST', '/agent/v1/heartbeat', HeartbeatResponse, { body });
  }

  /** The long poll: answers at once when `since` is stale, else within `waitSeconds`. */
  pollDesiredState(
    query: { since?: number; waitSeconds: number },
    signal?: AbortSignal,
  ): Promise<ApiResult<DesiredStatePoll>> {
    const params = new URLSearchParams({ wait: String(query.waitSeconds) });
    if (query.since !== undefined) params.set('since', String(query.since));
    return this.call('GET', `/agent/v1/desired-state?${params}`, DesiredStatePoll, {
      signal,
      extraMs: query.waitSeconds * 1000,
    });
  }

  reportUsage(body: UsageReport): Promise<ApiResult<UsageAck>> {
    return this.call('POST', '/agent/v1/usage', UsageAck, { body });
  }

  /** Prediction calls sealed from the usage journal; stored once per (agent, seq, part). */
  reportPredictionUsage(body: PredictionUsageReport): Promise<ApiResult<PredictionUsageAck>> {
    return this.call('POST', '/agent/v1/prediction-usage', PredictionUsageAck, { body });
  }

  /** Per-deployment queue and compute figures and drift sketches; idempotent by report id. */
  reportMonitoring(body: AgentMonitoringReport): Promise<ApiResult<AgentMonitoringAck>> {
    return this.call('POST', '/agent/v1/monitoring', AgentMonitoringAck, { body });
  }

  /** Per-replica load for the autoscaler; answered 204. */
  reportLoad(body: AgentLoadReport): Promise<ApiResult<unknown>> {
    return this.call('POST', '/agent/v1/load', NoContent, { body });
  }

  /** Which of the notebooks whose files this agent keeps were deleted (of those it ran). */
  deletedNotebooks(body: DeletedNotebooksQuery): Promise<ApiResult<DeletedNotebooks>> {
    return this.call('POST', '/agent/v1/notebooks/deleted', DeletedNotebooks, { body });
  }

  private async call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    opts: { body?: unknown; signal?: AbortSignal; extraMs?: number },
  ): Promise<ApiResult<z.output<S>>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.credential) headers.authorization = `Bearer ${this.options.credential}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(this.timeoutMs + (opts.extraMs ?? 0));
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(this.options.baseUrl + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
      });
      text = await res.text();
    } catch (err) {
      return { ok: false, error: { kind: 'network', message: messageOf(err) } };
    }
    const json = parseJson(text);
    if (!res.ok) {
      const envelope = errorEnvelope(json);
      return {
        ok: false,
        error: {
          kind: 'http',
          status: res.status,
          code: envelope?.code,
          message: envelope?.message ?? res.statusText,
        },
      };
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'unreadable body';
      return { ok: false, error: { kind: 'invalid-response', message: `${method} ${path}: ${where}` } };
    }
    return { ok: true, value: parsed.data };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The control plane's `{error: {code, message}}`, when the body is one. */
function errorEnvelope(json: unknown): { code: string; message: string } | undefined {
  if (typeof json !== 'object' || json === null || !('error' in json)) return undefined;
  const error = json.error;
  if (typeof error !== 'object' || error === null) return undefined;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : 'unknown';
  const message = 'message' in error && typeof error.message === 'string' ? error.message : '';
  return { code, message };
}
