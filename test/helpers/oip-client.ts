import { webcrypto } from 'node:crypto';
import { SIGNATURE_HEADERS, signRequestWebCrypto } from '@meridian/protocol';

/** Calls an agent's data plane the way the edge does: an OIP v2 JSON request signed with the data-plane key. */
export class SignedOipClient {
  constructor(private readonly key: Uint8Array) {}

  async fetch(baseUrl: string, deploymentId: string, target: string, body?: unknown): Promise<Response> {
    const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
    const timestamp = Math.floor(Date.now() / 1000);
    const method = body === undefined ? 'GET' : 'POST';
    const signature = await signRequestWebCrypto(webcrypto.subtle, this.key, {
      method,
      target,
      body: bytes,
      deploymentId,
      timestamp,
    });
    return fetch(baseUrl + target, {
      method,
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADERS.deployment]: deploymentId,
        [SIGNATURE_HEADERS.timestamp]: String(timestamp),
        [SIGNATURE_HEADERS.signature]: signature,
      },
      ...(body === undefined ? {} : { body: bytes }),
      signal: AbortSignal.timeout(10_000),
    });
  }
}
