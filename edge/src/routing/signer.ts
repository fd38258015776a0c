import { createHash, createHmac } from 'node:crypto';
import {
  agentKeyDerivationText,
  canonicalSigningString,
  SIGNATURE_HEADERS,
  type SignedRequestFields,
} from '@meridian/protocol';

// Hashing and signing run on every forwarded call, so they use workerd's synchronous node:crypto (BoringSSL
// underneath, as WebCrypto): the same bytes, without two promise round trips per request.

/** An agent's HMAC key: raw bytes, derived once per isolate and generation. */
export type AgentKey = Uint8Array;

const MAX_AGENT_KEYS = 4096;
// Derived keys per isolate; a different platform secret (a rotation of the secret itself) starts over.
let cache: { secret: string; agents: Map<string, AgentKey> } | undefined;

/**
 * The key the edge signs requests to `agentId` with: HMAC-SHA256(platform key, `agent-data-plane:<id>:<gen>`),
 * the agent's own key, which the control plane handed it. Derived once per isolate.
 */
export function agentSigningKey(secret: string, agentId: string, generation: number): AgentKey {
  if (cache?.secret !== secret) cache = { secret, agents: new Map() };
  const id = `${agentId}:${generation}`;
  let key = cache.agents.get(id);
  if (!key) {
    key = createHmac('sha256', secret).update(agentKeyDerivationText(agentId, generation)).digest();
    // Bounded: a fleet larger than this re-derives now and then (a few µs), never grows the isolate.
    if (cache.agents.size >= MAX_AGENT_KEYS) cache.agents.clear();
    cache.agents.set(id, key);
  }
  return key;
}

/** Hex SHA-256 of a body: computed once per request, signed again on every attempt. */
export function sha256Hex(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * The signature headers of one attempt (the agent's side: gpu-agent/src/data-plane/auth.ts). The timestamp is
 * taken per attempt, so a retry after a slow timeout still falls inside the agent's window; the nonce is the
 * caller's to make unique per attempt. Throws when a field cannot be signed as it would be sent.
 */
export function signatureHeaders(
  key: AgentKey,
  request: Omit<SignedRequestFields, 'timestamp'>,
  nowMs: number = Date.now(),
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  const text = canonicalSigningString({ ...request, timestamp });
  return {
    [SIGNATURE_HEADERS.deployment]: request.deploymentId,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.nonce]: request.nonce,
    [SIGNATURE_HEADERS.keyGeneration]: String(request.keyGeneration),
    [SIGNATURE_HEADERS.signature]: createHmac('sha256', key).update(text).digest('hex'),
  };
}
