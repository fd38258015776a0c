import type { CallCounts, CountingProxy } from './control-plane-proxy.js';
import type { LoadResult } from './load.js';
import type { Running } from './processes.js';

/** The real agent serving the classifier, or the fixed-response server standing in for it. */
export type UpstreamKey = 'agent' | 'fixed';
export type Upstream = {
  key: UpstreamKey;
  port: number;
  process: Running;
  deploymentName: string;
  /** Signed requests for this upstream's replica path (direct, nginx and bare Worker rows). */
  signed: () => Buffer[];
  /** The request through the edge, by deployment name with the API key. */
  viaEdge: Buffer[];
};
/** What the edge's GET /internal/edge-stats counts per isolate since it started. */
export type EdgeStats = { limiterCalls: number; predictions: number };
export type EdgeHandle = { port: number; proxy: CountingProxy; process: Running };
/**
 * Something a cell loads: direct calls, nginx, or a bare Worker, the signing floor and the header-signing
 * floor (raw workerd only) or the edge in one runtime.
 */
export type Target = {
  label: string;
  runtime: 'workerd' | 'miniflare' | 'none';
  kind: 'direct' | 'nginx' | 'bare' | 'floor' | 'headerFloor' | 'edge';
  port(u: Upstream): number;
  /** The proxy's process (its descendants included) that serves `u`; none for direct calls. */
  proxy(u: Upstream): Running | undefined;
  edge?: EdgeHandle;
  /** Set when the target answered the check request with something other than a 2xx. */
  broken?: Partial<Record<UpstreamKey, string>>;
};
/** One measured window. */
export type Cell = LoadResult & {
  upstreamUsPerReq: number;
  hopUsPerReq: number | undefined;
  machineBusy: number;
  calls?: CallCounts;
  stats?: { before: EdgeStats; after: EdgeStats } | string;
};
