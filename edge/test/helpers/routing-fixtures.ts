import {
  deriveAgentKeyWebCrypto,
  INFERENCE_HEADER_CONTENT_LENGTH,
  isTimestampFresh,
  parseKeyGeneration,
  parseSignatureTimestamp,
  parseUsageHeaders,
  type RoutedDeployment,
  type RoutedReplica,
  type RoutedVersion,
  type RoutingSnapshot,
  SIGNATURE_HEADERS,
  signRequestWebCrypto,
} from '@meridian/protocol';
import { vi } from 'vitest';
import { EdgeError } from '../../src/errors.js';

export const SIGNING_KEY = 'test-data-plane-signing-key-0123456789';

export function replica(n: number, url = `http://agent-${n}.test:8001`): RoutedReplica {
  return { workloadId: `wl_${n}`, agentId: `agt_${n}`, url, keyGeneration: 1 };
}

export function version(n: number, weight: number, replicas: RoutedReplica[]): RoutedVersion {
  return { versionId: `ver_${n}`, version: n, weight, replicas };
}

export function deployment(
  name: string,
  versions: RoutedVersion[],
  overrides: Partial<RoutedDeployment> = {},
): RoutedDeployment {
  return { deploymentId: `dep_${name}`, orgId: 'org_a', name, deterministic: false, versions, ...overrides };
}

export function snapshot(version: number, deployments: RoutedDeployment[]): RoutingSnapshot {
  return { version, generatedAt: '2026-01-01T00:00:00.000Z', deployments };
}

/** What an agent does with one request: answer, refuse the connection, or never answer. */
export type AgentBehaviour =
  | Response
  | 'refuse'
  | 'hang'
  | ((request: Request, body: Uint8Array) => Response);

export interface SeenRequest {
  url: string;
  method: string;
  headers: Headers;
  body: Uint8Array;
  /** Whether the edge signature verifies under the agent's key (derived from SIGNING_KEY) and is fresh. */
  signatureValid: boolean;
}

/**
 * Agents stand-in: a Worker cannot listen on a port, so `fetch` is replaced for the test and each agent
 * origin gets a behaviour. It checks the edge signature as the agent does (gpu-agent/src/data-plane/auth.ts),
 * recomputing it with the protocol's signer.
 */
export function stubAgents(behaviours: Record<string, AgentBehaviour>): SeenRequest[] {
  const seen: SeenRequest[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = new Uint8Array(await request.arrayBuffer());
    seen.push({
      url: request.url,
      method: request.method,
      headers: request.headers,
      body,
      signatureValid: await verifies(request, url, body),
    });
    const behaviour = behaviours[url.origin];
    if (behaviour === undefined || behaviour === 'refuse') throw new TypeError('Network connection lost.');
    if (behaviour === 'hang')
      return new Promise<Response>((_, reject) => {
        request.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    return typeof behaviour === 'function' ? behaviour(request, body) : behaviour.clone();
  });
  return seen;
}

/** The agent behind a stub origin: `http://agent-<n>.test` is `agt_<n>`, as `replica(n)` makes them. */
const agentOf = (url: URL) => `agt_${/^agent-(\d+)\./.exec(url.hostname)?.[1] ?? 'unknown'}`;

async function verifies(request: Request, url: URL, body: Uint8Array): Promise<boolean> {
  const header = (name: string) => request.headers.get(name) ?? undefined;
  const deploymentId = header(SIGNATURE_HEADERS.deployment) ?? '';
  const timestamp = parseSignatureTimestamp(header(SIGNATURE_HEADERS.timestamp));
  const keyGeneration = parseKeyGeneration(header(SIGNATURE_HEADERS.keyGeneration));
  const signature = header(SIGNATURE_HEADERS.signature);
  if (timestamp === undefined || !isTimestampFresh(timestamp, Math.floor(Date.now() / 1000))) return false;
  if (keyGeneration === undefined) return false;
  const platform = new TextEncoder().encode(SIGNING_KEY);
  const key = await deriveAgentKeyWebCrypto(crypto.subtle, platform, agentOf(url), keyGeneration);
  try {
    const expected = await signRequestWebCrypto(crypto.subtle, key, {
      method: request.method,
      target: url.pathname + url.search,
      body,
      deploymentId,
      timestamp,
      nonce: header(SIGNATURE_HEADERS.nonce) ?? '',
      keyGeneration,
      contentType: header('content-type') ?? '',
      inferenceHeaderContentLength: header(INFERENCE_HEADER_CONTENT_LENGTH) ?? '',
      usage: parseUsageHeaders(header),
    });
    return signature === expected;
  } catch {
    return false;
  }
}

export function json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** The EdgeError a call was refused with; throws if it resolved or failed otherwise. */
export async function failure(promise: Promise<unknown>): Promise<EdgeError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof EdgeError)) throw new Error(`expected an EdgeError, got ${String(err)}`);
  return err;
}
