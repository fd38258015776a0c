import { randomUUID } from 'node:crypto';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  INFERENCE_HEADER_CONTENT_LENGTH,
  SIGNATURE_HEADERS,
  type UsageIdentity,
  usageHeaders,
} from '@meridian/protocol';
import { withDataPlaneTimeouts } from '../server-timeouts.js';
import { signEdgeRequest } from '../signature.js';

/** Serves a data plane (createDataPlaneListener) on 127.0.0.1 on a free port; resolves once it listens. */
export function listen(listener: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  return new Promise((resolve) => {
    const server = withDataPlaneTimeouts(createServer(listener));
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/**
 * Headers the edge would send (node:crypto signer, as in benchmarks and tests): `headers` (content-type,
 * inference-header-content-length: both signed), the usage identity when given, and the signature headers
 * with a fresh nonce (pass `nonce` to replay one) under key generation 1 unless told.
 */
export function edgeHeaders(
  key: Uint8Array,
  request: {
    method: string;
    target: string;
    body?: Uint8Array | undefined;
    deploymentId: string;
    timestamp?: number | undefined;
    nonce?: string;
    keyGeneration?: number;
    headers?: Record<string, string>;
    usage?: UsageIdentity;
  },
): Record<string, string> {
  const timestamp = request.timestamp ?? Math.floor(Date.now() / 1000);
  const body = request.body ?? new Uint8Array(0);
  const nonce = request.nonce ?? randomUUID();
  const keyGeneration = request.keyGeneration ?? 1;
  const headers = request.headers ?? {};
  const fields = {
    method: request.method,
    target: request.target,
    body,
    deploymentId: request.deploymentId,
    timestamp,
    nonce,
    keyGeneration,
    contentType: headers['content-type'] ?? '',
    inferenceHeaderContentLength: headers[INFERENCE_HEADER_CONTENT_LENGTH] ?? '',
    usage: request.usage,
  };
  return {
    ...headers,
    ...usageHeaders(request.usage),
    [SIGNATURE_HEADERS.deployment]: request.deploymentId,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.keyGeneration]: String(keyGeneration),
    [SIGNATURE_HEADERS.signature]: signEdgeRequest(key, fields),
  };
}
