import type { Server } from 'node:http';

/**
 * How long an idle keep-alive connection stays open. Node's default (5 s) is shorter than the edge's and
 * most clients' pools keep theirs: the agent then closes a connection a client is about to reuse, and the
 * request written into it meets a reset (or, for a client that misses the close, no answer at all: the
 * serving benchmark hung on one). A server behind a pool keeps connections longer than the pool does.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Applies the data plane's connection timeouts to its HTTP server; returns it. */
export function withDataPlaneTimeouts(server: Server): Server {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Longer than the keep-alive timeout, so the header timer never cuts an idle keep-alive connection first.
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  return server;
}
