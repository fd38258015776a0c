import { newRouter } from '../http/openapi.js';
import type { AgentServiceDeps } from '../services/agents/deps.js';
import type { DispatchSettings } from '../services/notifications/dispatcher.js';
import { alertRoutes } from './alerts.js';
import { DEPLOYMENT_METRICS_PATH, deploymentMetricsRoutes } from './deployment-metrics.js';
import type { RouteDeps } from './deps.js';
import { notificationChannelRoutes } from './notification-channels.js';

/** Paths that take larger bodies than the app's JSON limit (they carry their own). */
export const MONITORING_BODY_PATHS: readonly string[] = [DEPLOYMENT_METRICS_PATH];

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
}

/** Monitoring: per-deployment metrics, alert rules and silences, notification channels. */
export function monitoringRoutes(deps: RouteDeps, options: MonitoringRouteOptions) {
  const dispatch = options.dispatch ?? DEFAULT_DISPATCH;
  return newRouter()
    .route('/', deploymentMetricsRoutes(deps, options.edgeServiceToken))
    .route('/', alertRoutes(deps))
    .route('/', notificationChannelRoutes(deps, dispatch));
}
