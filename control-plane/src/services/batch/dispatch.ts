import {
  PRIORITY_HEADER,
  type RoutedDeployment,
  type RoutedReplica,
  type RoutedVersion,
  type UsageIdentity,
} from '@meridian/protocol';
import type { ValidLine } from './lines.js';
import { signedHeaders } from './sign.js';

/** What a line came to: the agent's 200 body, or why it has none. */
export type LineAnswer =
  | { ok: true; body: Record<string, unknown>; version: number; bytesIn: number; bytesOut: number }
  | { ok: false; status: number | null; code: string; message: string };

export type RetryPolicy = { attempts: number; baseDelayMs: number; maxDelayMs: number; timeoutMs: number };
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 8,
  baseDelayMs: 200,
  maxDelayMs: 3000,
  timeoutMs: 30_000,
};

/** Where a job's lines go: the deployment's ready replicas, least outstanding first. */
export class ReplicaChooser {
  private readonly outstanding = new Map<string, number>();

  /** A version by its traffic weight, then its replica with the fewest of this job's lines in flight. */
  choose(
    deployment: RoutedDeployment,
    avoid?: string,
  ): { version: RoutedVersion; replica: RoutedReplica } | undefined {
    const versions = deployment.versions.filter((v) => v.replicas.length > 0);
    const total = versions.reduce((n, v) => n + Math.max(v.weight, 0), 0);
    let pick = Math.random() * total;
    let version = versions.at(-1);
    for (const v of versions) {
      pick -= Math.max(v.weight, 0);
      if (pick < 0) {
        version = v;
        break;
      }
    }
    if (!version) return undefined;
    const candidates = version.replicas.filter((r) => r.workloadId !== avoid);
    const pool = candidates.length > 0 ? candidates : version.replicas;
    let best: RoutedReplica | undefined;
    for (const r of pool)
      if (!best || (this.outstanding.get(r.workloadId) ?? 0) < (this.outstanding.get(best.workloadId) ?? 0))
        best = r;
    return best ? { version, replica: best } : undefined;
  }

  start(workloadId: string): () => void {
    this.outstanding.set(workloadId, (this.outstanding.get(workloadId) ?? 0) + 1);
    return () => this.outstanding.set(workloadId, (this.outstanding.get(workloadId) ?? 1) - 1);
  }
}

export interface LineContext {
  platformKey: string;
  /** The deployment as routing has it now (re-read on every attempt: replicas come and go). */
  deployment: () => RoutedDeployment | undefined;
  usage: UsageIdentity;
  chooser: ReplicaChooser;
  retry: RetryPolicy;
  signal: AbortSignal;
}

type Attempt = { retry: true; reason: string; afterMs?: number } | { retry: false; answer: LineAnswer };

/**
 * Sends one line to a replica, signed as the edge signs, and retries what another attempt may fix (no
 * replica, a connection failure, a timeout, 503 and other 5xx, 404 from a replica that just stopped serving)
 * with exponential backoff. A 4xx is the line's answer. Resolves `aborted` when the job stops meanwhile.
 */
export async function sendLine(ctx: LineContext, line: ValidLine): Promise<LineAnswer | 'aborted'> {
  const body = Buffer.from(JSON.stringify(line.request));
  let lastReason = 'no ready replica';
  let avoid: string | undefined;
  for (let attempt = 0; attempt < ctx.retry.attempts; attempt++) {
    if (ctx.signal.aborted) return 'aborted';
    const deployment = ctx.deployment();
    const chosen = deployment ? ctx.chooser.choose(deployment, avoid) : undefined;
    let outcome: Attempt = { retry: true, reason: 'no ready replica' };
    if (deployment && chosen) {
      const end = ctx.chooser.start(chosen.replica.workloadId);
      outcome = await attemptOnce(ctx, deployment, chosen, body).finally(end);
      avoid = chosen.replica.workloadId;
    }
    if (!outcome.retry) return outcome.answer;
    lastReason = outcome.reason;
    const backoff = Math.min(ctx.retry.maxDelayMs, ctx.retry.baseDelayMs * 2 ** attempt);
    const wait = Math.max(outcome.afterMs ?? 0, backoff * (0.5 + Math.random() / 2));
    if (attempt + 1 < ctx.retry.attempts && !(await sleep(wait, ctx.signal))) return 'aborted';
  }
  return {
    ok: false,
    status: null,
    code: 'unavailable',
    message: `no replica answered after ${ctx.retry.attempts} attempts (${lastReason})`,
  };
}

async function attemptOnce(
  ctx: LineContext,
  deployment: RoutedDeployment,
  { version, replica }: { version: RoutedVersion; replica: RoutedReplica },
  body: Buffer,
): Promise<Attempt> {
  const target = `/v2/models/${encodeURIComponent(deployment.deploymentId)}/versions/${encodeURIComponent(version.versionId)}/infer`;
  const url = replica.url.replace(/\/+$/, '') + target;
  const timeout = AbortSignal.timeout(ctx.retry.timeoutMs);
  let response: Response;
  try {
    const headers = signedHeaders(ctx.platformKey, {
      agentId: replica.agentId,
      keyGeneration: replica.keyGeneration,
      deploymentId: deployment.deploymentId,
      target,
      body,
      usage: ctx.usage,
    });
    response = await fetch(url, {
      method: 'POST',
      headers: { ...headers, [PRIORITY_HEADER]: 'batch' },
      body,
      signal: AbortSignal.any([timeout, ctx.signal]),
    });
  } catch (err) {
    return {
      retry: true,
      reason: timeout.aborted ? 'timed out' : `connection failed: ${String(err).slice(0, 200)}`,
    };
  }
  const text = await response.text().catch(() => '');
  if (response.status === 200) {
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      return {
        retry: false,
        answer: {
          ok: true,
          body: json,
          version: version.version,
          bytesIn: body.byteLength,
          bytesOut: text.length,
        },
      };
    } catch {
      return { retry: true, reason: 'the replica answered 200 with a body that is not JSON' };
    }
  }
  const message = agentMessage(text) ?? `the replica answered ${response.status}`;
  if (
    response.status >= 500 ||
    response.status === 404 ||
    response.status === 401 ||
    response.status === 429
  ) {
    const after = Number(response.headers.get('retry-after'));
    return {
      retry: true,
      reason: `${response.status}: ${message}`,
      ...(Number.isFinite(after) && after > 0 ? { afterMs: Math.min(after, 10) * 1000 } : {}),
    };
  }
  return { retry: false, answer: { ok: false, status: response.status, code: 'invalid_request', message } };
}

function agentMessage(text: string): string | undefined {
  try {
    const json = JSON.parse(text) as { error?: unknown };
    if (typeof json.error === 'string') return json.error.slice(0, 1000);
    if (typeof json.error === 'object' && json.error !== null && 'message' in json.error)
      return String((json.error as { message: unknown }).message).slice(0, 1000);
  } catch {}
  return text ? text.slice(0, 200) : undefined;
}

/** false when `signal` aborted the wait. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
