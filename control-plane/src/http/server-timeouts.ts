import type { Server } from 'node:http';

/**
 * The Node server's timeouts. Node ≥ 18 cuts any request whose body is still arriving after 5 minutes
 * (`requestTimeout`, answered 408): a model upload streamed through the control plane (up to
 * MERIDIAN_MAX_MODEL_BYTES, 2 GiB by default) or a large artifact on an ordinary uplink takes longer, so the
 * cap is off; `headersTimeout` still bounds how long headers may trickle in. Node also closes an idle
 * kept-alive connection after 5 s; a client's pool (the SDK's, a load balancer's) that sends on it in that
 * instant sees the connection break. Idle gaps near a minute are rare, near 5 s are not.
 */
export function applyServerTimeouts(
  server: Pick<Server, 'keepAliveTimeout' | 'headersTimeout' | 'requestTimeout'>,
) {
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
}
