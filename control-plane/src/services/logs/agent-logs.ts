import { createHash, createHmac, randomUUID } from 'node:crypto';
import { agentKeyDerivationText, canonicalSigningString, SIGNATURE_HEADERS } from '@meridian/protocol';
import { z } from 'zod';

/** One replica whose lines are read: a workload and the agent it runs on. */
export interface ReplicaTarget {
  workloadId: string;
  agentId: string;
  dataPlaneUrl: string;
  keyGeneration: number;
}

/** A line as an agent serves it (gpu-agent/src/agent/log-ring.ts), parsed at this trust boundary. */
export const AgentLogLine = z.object({
  seq: z.number().int().nonnegative(),
  time: z.number().nonnegative(),
  stream: z.enum(['stdout', 'stderr', 'output', 'agent']),
  line: z.string().max(64 * 1024),
});
export type AgentLogLine = z.infer<typeof AgentLogLine>;

const AgentLogPage = z.object({ lines: z.array(AgentLogLine).max(10_000) });

/** What is asked of each agent: the last `tail` lines at or after `sinceMs`. */
export interface AgentLogQuery {
  tail: number;
  sinceMs?: number | undefined;
}

const EMPTY_SHA256 = createHash('sha256').update(new Uint8Array(0)).digest('hex');

/**
 * The headers of a GET to an agent's data plane, signed as the edge signs (protocol/src/oip/signature.ts)
 * under the agent's own key, derived from the platform key. The signed deployment field names the workload:
 * the agent serves that workload's lines and no other's under this signature.
 */
export function signedAgentHeaders(
  platformKey: string,
  target: ReplicaTarget,
  pathAndQuery: string,
  nowMs = Date.now(),
): Record<string, string> {
  const key = createHmac('sha256', platformKey)
    .update(agentKeyDerivationText(target.agentId, target.keyGeneration))
    .digest();
  const fields = {
    method: 'GET',
    target: pathAndQuery,
    bodySha256Hex: EMPTY_SHA256,
    deploymentId: target.workloadId,
    timestamp: Math.floor(nowMs / 1000),
    nonce: `cp-${randomUUID()}`,
    keyGeneration: target.keyGeneration,
    contentType: '',
    inferenceHeaderContentLength: '',
  };
  return {
    [SIGNATURE_HEADERS.deployment]: fields.deploymentId,
    [SIGNATURE_HEADERS.timestamp]: String(fields.timestamp),
    [SIGNATURE_HEADERS.nonce]: fields.nonce,
    [SIGNATURE_HEADERS.keyGeneration]: String(fields.keyGeneration),
    [SIGNATURE_HEADERS.signature]: createHmac('sha256', key)
      .update(canonicalSigningString(fields))
      .digest('hex'),
  };
}

function logsPath(target: ReplicaTarget, query: AgentLogQuery, follow: boolean): string {
  const params = new URLSearchParams({ tail: String(query.tail) });
  if (query.sinceMs !== undefined) params.set('since_ms', String(Math.floor(query.sinceMs)));
  if (follow) params.set('follow', 'true');
  return `/agent/v1/workloads/${encodeURIComponent(target.workloadId)}/logs?${params}`;
}

function urlOf(target: ReplicaTarget, path: string): string {
  return target.dataPlaneUrl.replace(/\/+$/, '') + path;
}

/**
 * The result of asking one agent: its lines, or why there are none (said to the user, never thrown). `gone`:
 * the agent holds no line of it (none written yet, or forgotten past its window for removed workloads).
 */
export type ReplicaLogs = { ok: true; lines: AgentLogLine[] } | { ok: false; error: string; gone?: true };

/** Reads one replica's recent lines; an agent that is down or answers badly is an error, not an exception. */
export async function readReplicaLogs(
  platformKey: string,
  target: ReplicaTarget,
  query: AgentLogQuery,
  timeoutMs = 5_000,
): Promise<ReplicaLogs> {
  const path = logsPath(target, query, false);
  try {
    const res = await fetch(urlOf(target, path), {
      headers: signedAgentHeaders(platformKey, target, path),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      if (res.status === 404) return { ok: false, error: 'its agent no longer holds its lines', gone: true };
      return { ok: false, error: `its agent answered ${res.status}` };
    }
    const page = AgentLogPage.safeParse(await res.json());
    return page.success
      ? { ok: true, lines: page.data.lines }
      : { ok: false, error: 'its agent answered badly' };
  } catch {
    return { ok: false, error: 'its agent cannot be reached' };
  }
}

/**
 * Follows one replica: its backlog then each new line goes to `onLine`, until `signal` aborts or the agent
 * ends the stream. Resolves with why it ended when that was not the caller's doing.
 */
export async function followReplicaLogs(
  platformKey: string,
  target: ReplicaTarget,
  query: AgentLogQuery,
  signal: AbortSignal,
  onLine: (line: AgentLogLine) => void,
): Promise<string | undefined> {
  const path = logsPath(target, query, true);
  let res: Response;
  try {
    res = await fetch(urlOf(target, path), {
      headers: signedAgentHeaders(platformKey, target, path),
      signal,
    });
  } catch {
    return signal.aborted ? undefined : 'its agent cannot be reached';
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    return `its agent answered ${res.status}`;
  }
  const decoder = new TextDecoder();
  let partial = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
      partial = lines.pop() ?? '';
      // A partial line past 128 KiB is not one the agent sends: the stream is not what it should be.
      if (partial.length > 128 * 1024) return 'its agent answered badly';
      for (const raw of lines) {
        if (raw === '') continue; // the agent's keep-alive
        const parsed = AgentLogLine.safeParse(JSON.parse(raw));
        if (parsed.success) onLine(parsed.data);
      }
    }
  } catch {
    return signal.aborted ? undefined : 'its agent closed the stream';
  }
  return signal.aborted ? undefined : 'its agent ended the stream';
}
