import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADERS } from '@meridian/protocol';
import { signEdgeRequest } from '../signature.js';

/** Serves a data plane (createDataPlaneListener) on 127.0.0.1 on a free port; resolves once it listens. */
export function listen(listener: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  return new Promise((resolve) => {
    const server = createServer(listener);
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

/** Headers the edge would add to a request (node:crypto signer, as in benchmarks and tests). */
export function edgeHeaders(
  key: Uint8Array,
  request: { method: string; target: string; body?: Uint8Array; deploymentId: string; timestamp?: number },
): Record<string, string> {
  const timestamp = request.timestamp ?? Math.floor(Date.now() / 1000);
  const body = request.body ?? new Uint8Array(0);
  return {
    [SIGNATURE_HEADERS.deployment]: request.deploymentId,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.signature]: signEdgeRequest(key, { ...request, body, timestamp }),
  };
}
