import { createHash, createHmac, randomUUID } from 'node:crypto';
import {
  agentKeyDerivationText,
  canonicalSigningString,
  SIGNATURE_HEADERS,
  type UsageIdentity,
  usageHeaders,
} from '@meridian/protocol';

// The same signature the edge puts on its forwarded calls (edge/src/routing/signer.ts), made with node:crypto:
// the agent cannot tell a batch line from a real-time call by its signature, only by the caller it names.

const keys = new Map<string, Buffer>();

/** An agent's data-plane key of a generation, derived from the platform key and cached. */
function agentKey(platformKey: string, agentId: string, generation: number): Buffer {
  const id = `${agentId}:${generation}`;
  let key = keys.get(id);
  if (!key) {
    key = createHmac('sha256', platformKey).update(agentKeyDerivationText(agentId, generation)).digest();
    if (keys.size > 4096) keys.clear();
    keys.set(id, key);
  }
  return key;
}

/** Headers of one signed attempt: content type, usage identity, and the signature over what is sent. */
export function signedHeaders(
  platformKey: string,
  call: {
    agentId: string;
    keyGeneration: number;
    deploymentId: string;
    target: string;
    body: Uint8Array;
    usage: UsageIdentity;
  },
  nowMs = Date.now(),
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  const nonce = randomUUID();
  const contentType = 'application/json';
  const text = canonicalSigningString({
    method: 'POST',
    target: call.target,
    bodySha256Hex: createHash('sha256').update(call.body).digest('hex'),
    deploymentId: call.deploymentId,
    timestamp,
    nonce,
    keyGeneration: call.keyGeneration,
    contentType,
    inferenceHeaderContentLength: '',
    usage: call.usage,
  });
  return {
    'content-type': contentType,
    ...usageHeaders(call.usage),
    [SIGNATURE_HEADERS.deployment]: call.deploymentId,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.keyGeneration]: String(call.keyGeneration),
    [SIGNATURE_HEADERS.signature]: createHmac(
      'sha256',
      agentKey(platformKey, call.agentId, call.keyGeneration),
    )
      .update(text)
      .digest('hex'),
  };
}
