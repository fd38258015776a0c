import {
  agentKeyDerivationText,
  canonicalSigningString,
  SIGNATURE_HEADERS,
  type SignedRequestFields,
  toHex,
} from '@meridian/protocol';

const encoder = new TextEncoder();
const hmac = { name: 'HMAC', hash: 'SHA-256' } as const;

// Imported HMAC keys, per isolate: the platform key once, and each agent's derived key once per generation.
// A different platform secret (a rotation of the secret itself) starts over.
const MAX_AGENT_KEYS = 4096;
let cache:
  | { secret: string; platform: Promise<CryptoKey>; agents: Map<string, Promise<CryptoKey>> }
  | undefined;

function keysFor(secret: string) {
  if (cache?.secret !== secret) {
    const platform = crypto.subtle.importKey('raw', encoder.encode(secret), hmac, false, ['sign']);
    cache = { secret, platform, agents: new Map() };
  }
  return cache;
}

/**
 * The key the edge signs requests to `agentId` with: HMAC-SHA256(platform key, `agent-data-plane:<id>:<gen>`),
 * the agent's own key, which the control plane handed it. Derived and imported once per isolate.
 */
export function agentSigningKey(secret: string, agentId: string, generation: number): Promise<CryptoKey> {
  const keys = keysFor(secret);
  const id = `${agentId}:${generation}`;
  let key = keys.agents.get(id);
  if (!key) {
    key = keys.platform
      .then((platform) =>
        crypto.subtle.sign('HMAC', platform, encoder.encode(agentKeyDerivationText(agentId, generation))),
      )
      .then((raw) => crypto.subtle.importKey('raw', raw, hmac, false, ['sign']));
    // Bounded: a fleet larger than this re-derives now and then (a few µs), never grows the isolate.
    if (keys.agents.size >= MAX_AGENT_KEYS) keys.agents.clear();
    keys.agents.set(id, key);
    // A failed derivation is not kept.
    key.catch(() => keys.agents.delete(id));
  }
  return key;
}

/** Hex SHA-256 of a body: computed once per request, signed again on every attempt. */
export async function sha256Hex(body: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', body)));
}

/**
 * The signature headers of one attempt (the agent's side: gpu-agent/src/data-plane/auth.ts). The timestamp is
 * taken per attempt, so a retry after a slow timeout still falls inside the agent's window; the nonce is the
 * caller's to make unique per attempt. Throws when a field cannot be signed as it would be sent.
 */
export async function signatureHeaders(
  key: CryptoKey,
  request: Omit<SignedRequestFields, 'timestamp'>,
  nowMs: number = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = Math.floor(nowMs / 1000);
  const text = canonicalSigningString({ ...request, timestamp });
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(text));
  return {
    [SIGNATURE_HEADERS.deployment]: request.deploymentId,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.nonce]: request.nonce,
    [SIGNATURE_HEADERS.keyGeneration]: String(request.keyGeneration),
    [SIGNATURE_HEADERS.signature]: toHex(new Uint8Array(mac)),
  };
}
