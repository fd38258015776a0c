import { newRouter } from '../http/openapi.js';
import type { AgentServiceDeps } from '../services/agents/deps.js';
import type { DriftSettings } from '../services/drift/ingest-drift.js';
import { DEFAULT_DRIFT } from '../services/drift/ingest-drift.js';
import type { DispatchSettings } from '../services/notifications/dispatcher.js';
import { alertRoutes } from './alerts.js';
import { DEPLOYMENT_METRICS_PATH, deploymentMetricsRoutes } from './deployment-metrics.js';
import type { RouteDeps } from './deps.js';
import { AGENT_MONITORING_PATH, driftRoutes } from './drift.js';
import { notificationChannelRoutes } from './notification-channels.js';

/** Paths that take larger bodies than the app's JSON limit (they carry their own). */
export const MONITORING_BODY_PATHS: readonly string[] = [DEPLOYMENT_METRICS_PATH, AGENT_MONITORING_PATH];

export const DEFAULT_DISPATCH: DispatchSettings = {
  allowPrivate: false,
  timeoutMs: 5_000,
  retryBaseMs: 5_000,
  maxAttempts: 6,
};

export interface MonitoringRouteOptions {
  edgeServiceToken: string;
  agent: AgentServiceDeps;
  dispatch?: DispatchSettings;
  drift?: DriftSettings;
}

/** Monitoring: per-deployment metrics, alert rules and silences, notification channels, agents' reports and drift. */
export function monitoringRoutes({
  monitoring: options,
  ...deps
}: RouteDeps & { monitoring: MonitoringRouteOptions }) {
  const dispatch = options.dispatch ?? DEFAULT_DISPATCH;
  return newRouter()
    .route('/', deploymentMetricsRoutes({ ...deps, edgeServiceToken: options.edgeServiceToken }))
    .route('/', alertRoutes(deps))
    .route('/', notificationChannelRoutes({ ...deps, dispatch }))
    .route('/', driftRoutes({ ...deps, agent: options.agent, settings: options.drift ?? DEFAULT_DRIFT }));
}
