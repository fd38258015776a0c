import { randomUUID, webcrypto } from 'node:crypto';
import {
  deriveAgentKeyWebCrypto,
  type RoutedReplica,
  SIGNATURE_HEADERS,
  signRequestWebCrypto,
  type UsageIdentity,
  usageHeaders,
} from '@meridian/protocol';

/** Who direct test calls are billed to: no real org, so the control plane refuses to bill them. */
const DIRECT_CALLER: UsageIdentity = { orgId: 'org_direct_test', keyId: 'key_direct_test', userId: null };

/**
 * Calls an agent's data plane the way the edge does: an OIP v2 JSON request signed with the replica's agent
 * key, derived from the platform data-plane key as the edge derives it, with a fresh nonce.
 */
export class SignedOipClient {
  constructor(
    private readonly platformKey: Uint8Array,
    private readonly usage: UsageIdentity = DIRECT_CALLER,
  ) {}

  async fetch(
    replica: Pick<RoutedReplica, 'url' | 'agentId'> & { keyGeneration?: number },
    deploymentId: string,
    target: string,
    body?: unknown,
  ): Promise<Response> {
    const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
    const timestamp = Math.floor(Date.now() / 1000);
    const method = body === undefined ? 'GET' : 'POST';
    const keyGeneration = replica.keyGeneration ?? 1;
    const key = await deriveAgentKeyWebCrypto(
      webcrypto.subtle,
      this.platformKey,
      replica.agentId,
      keyGeneration,
    );
    const nonce = randomUUID();
    const usage = method === 'POST' ? this.usage : undefined;
    const signature = await signRequestWebCrypto(webcrypto.subtle, key, {
      method,
      target,
      body: bytes,
      deploymentId,
      timestamp,
      nonce,
      keyGeneration,
      contentType: 'application/json',
      inferenceHeaderContentLength: '',
      usage,
    });
    return fetch(replica.url + target, {
      method,
      headers: {
        'content-type': 'application/json',
        ...usageHeaders(usage),
        [SIGNATURE_HEADERS.deployment]: deploymentId,
        [SIGNATURE_HEADERS.timestamp]: String(timestamp),
        [SIGNATURE_HEADERS.nonce]: nonce,
        [SIGNATURE_HEADERS.keyGeneration]: String(keyGeneration),
        [SIGNATURE_HEADERS.signature]: signature,
      },
      ...(body === undefined ? {} : { body: bytes }),
      signal: AbortSignal.timeout(10_000),
    });
  }
}
