import type { Server } from 'node:http';

/** Longest a request may take to arrive: 2 GiB (the default model limit) at ~5 Mbit/s, the slowest uplink served. */
export const REQUEST_TIMEOUT_MS = 60 * 60_000;

/**
 * The Node server's timeouts. Node ≥ 18 cuts any request whose body is still arriving after 5 minutes
 * (`requestTimeout`, answered 408): a model upload streamed through the control plane (up to
 * MERIDIAN_MAX_MODEL_BYTES, 2 GiB by default) or a large artifact on an ordinary uplink takes longer, so the
 * cap is an hour; not none, so a client trickling a body (or one to a refused request, which is drained)
 * cannot hold a connection for ever. `headersTimeout` still bounds how long headers may trickle in. Node also closes an idle
 * kept-alive connection after 5 s; a client's pool (the SDK's, a load balancer's) that sends on it in that
 * instant sees the connection break. Idle gaps near a minute are rare, near 5 s are not.
 */
export function applyServerTimeouts(
  server: Pick<Server, 'keepAliveTimeout' | 'headersTimeout' | 'requestTimeout'>,
) {
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
}
