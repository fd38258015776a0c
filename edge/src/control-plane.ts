import {
  ApiKeyResolution,
  DeploymentMetricsAck,
  type DeploymentMetricsBatch,
  NotebookTarget,
  OrgStatus,
  RoutingSnapshot,
  RoutingUnchanged,
  SessionStatus,
  type UsageBatch,
  UsageBatchAck,
} from '@meridian/protocol';
import type { z } from 'zod';
import type { Env } from './env.js';

/** The control plane could not be reached or answered 5xx: callers fall back to what they have cached. */
export class ControlPlaneUnavailable extends Error {
  override name = 'ControlPlaneUnavailable';
}

const TIMEOUT_MS = 3_000;
/** Set on calls made after the response (refresh ahead), which no request waits for. */
export const REFRESH_HEADER = 'meridian-edge-refresh';

/**
 * The edge's client for the control plane's /internal routes, authenticated with the edge service token.
 * Every answer is validated; a network error, a timeout or a 5xx is ControlPlaneUnavailable.
 */
export class ControlPlaneClient {
  constructor(
    private readonly env: Pick<Env, 'CONTROL_PLANE_URL' | 'EDGE_SERVICE_TOKEN'>,
    /** Marks calls no request waits for (`Meridian-Edge-Refresh: background`), so operators can tell them apart. */
    private readonly options: { background?: boolean } = {},
  ) {}

  resolveKey(hash: string): Promise<ApiKeyResolution> {
    return this.call('POST', '/internal/v1/api-keys/resolve', ApiKeyResolution, { hash });
  }

  /** The org's plan and standing; undefined when the org does not exist. */
  orgStatus(orgId: string): Promise<OrgStatus | undefined> {
    return this.call('GET', `/internal/v1/orgs/${encodeURIComponent(orgId)}`, OrgStatus, undefined, true);
  }

  /** Whether a user session (an access token's `sid`) still holds. */
  session(sessionId: string): Promise<SessionStatus> {
    return this.call('GET', `/internal/v1/sessions/${encodeURIComponent(sessionId)}`, SessionStatus);
  }

  notebook(notebookId: string): Promise<NotebookTarget | undefined> {
    return this.call(
      'GET',
      `/internal/v1/notebooks/${encodeURIComponent(notebookId)}`,
      NotebookTarget,
      undefined,
      true,
    );
  }

  routing(since?: number): Promise<RoutingSnapshot | RoutingUnchanged> {
    const query = since === undefined ? '' : `?since=${since}`;
    const schema = RoutingUnchanged.or(RoutingSnapshot);
    return this.call('GET', `/internal/v1/routing${query}`, schema);
  }

  sendUsage(batch: UsageBatch): Promise<UsageBatchAck> {
    return this.call('POST', '/internal/v1/usage', UsageBatchAck, batch);
  }

  /** An isolate's per-deployment metrics; idempotent by batch id. */
  sendDeploymentMetrics(batch: DeploymentMetricsBatch): Promise<DeploymentMetricsAck> {
    return this.call('POST', '/internal/v1/deployment-metrics', DeploymentMetricsAck, batch);
  }

  private async call<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T>;
  private async call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    body: unknown,
    notFoundIsUndefined: true,
  ): Promise<T | undefined>;
  private async call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    body?: unknown,
    notFoundIsUndefined = false,
  ): Promise<T | undefined> {
    let res: Response;
    try {
      res = await fetch(this.env.CONTROL_PLANE_URL.replace(/\/$/, '') + path, {
        method,
        headers: {
          authorization: `Bearer ${this.env.EDGE_SERVICE_TOKEN}`,
          ...(this.options.background ? { [REFRESH_HEADER]: 'background' } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new ControlPlaneUnavailable(
        `control plane unreachable: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (res.status === 404 && notFoundIsUndefined) {
      await res.body?.cancel();
      return undefined;
    }
    if (res.status >= 500) {
      await res.body?.cancel();
      throw new ControlPlaneUnavailable(`control plane answered ${res.status} to ${method} ${path}`);
    }
    if (!res.ok)
      throw new Error(`control plane refused ${method} ${path}: ${res.status} ${await res.text()}`);
    return schema.parse(await res.json());
  }
}
