import { createHmac } from 'node:crypto';
import {
  agentKeyDerivationText,
  canonicalSigningString,
  SIGNATURE_HEADERS,
  type SignedRequestFields,
} from '@meridian/protocol';

// Hashing and signing run on every forwarded call, so they use WebCrypto: workerd runs digest and sign in
// BoringSSL on the bytes it is handed and returns a settled promise. node:crypto's createHash/createHmac are
// stream objects in workerd (a Duplex built per call, the body copied into a Buffer): ~11% of the edge's CPU
// under load against ~2% for the same bytes through WebCrypto (bench/edge.ts --profile).

/** An agent's HMAC key, imported once per isolate and generation. */
export type AgentKey = Promise<CryptoKey>;

const MAX_AGENT_KEYS = 4096;
// Derived keys per isolate; a different platform secret (a rotation of the secret itself) starts over.
let cache: { secret: string; agents: Map<string, AgentKey> } | undefined;

/**
 * The key the edge signs requests to `agentId` with: HMAC-SHA256(platform key, `agent-data-plane:<id>:<gen>`),
 * the agent's own key, which the control plane handed it. Derived and imported once per isolate.
 */
export function agentSigningKey(secret: string, agentId: string, generation: number): AgentKey {
  if (cache?.secret !== secret) cache = { secret, agents: new Map() };
  const id = `${agentId}:${generation}`;
  let key = cache.agents.get(id);
  if (!key) {
    const raw = createHmac('sha256', secret).update(agentKeyDerivationText(agentId, generation)).digest();
    key = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    // Bounded: a fleet larger than this re-derives now and then (a few µs), never grows the isolate.
    if (cache.agents.size >= MAX_AGENT_KEYS) cache.agents.clear();
    cache.agents.set(id, key);
  }
  return key;
}

/** Hex SHA-256 of a body: computed once per request, signed again on every attempt. */
export async function sha256Hex(body: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', body));
}

const encoder = new TextEncoder();

/**
 * The signature headers of one attempt (the agent's side: gpu-agent/src/data-plane/auth.ts). The timestamp is
 * taken per attempt, so a retry after a slow timeout still falls inside the agent's window; the nonce is the
 * caller's to make unique per attempt. Throws when a field cannot be signed as it would be sent.
 */
export async function signatureHeaders(
  key: AgentKey,
  request: Omit<SignedRequestFields, 'timestamp'>,
  nowMs: number = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = Math.floor(nowMs / 1000);
  const text = canonicalSigningString({ ...request, timestamp });
  const signature = await crypto.subtle.sign('HMAC', await key, encoder.encode(text));
  return {
    [SIGNATURE_HEADERS.deployment]: request.deploymentId,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.nonce]: request.nonce,
    [SIGNATURE_HEADERS.keyGeneration]: String(request.keyGeneration),
    [SIGNATURE_HEADERS.signature]: hex(signature),
  };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of a digest, one table lookup per byte. */
function hex(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number];
  return out;
}
