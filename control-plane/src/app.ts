import { DEFAULT_NOTEBOOK_DOMAIN } from '@meridian/protocol';
import { bodyLimit } from 'hono/body-limit';
import { AccessTokens } from './auth/access-tokens.js';
import { IdentityCache } from './auth/identity-cache.js';
import { SessionCache } from './auth/session-cache.js';
import type { SigningKeyStore } from './auth/signing-keys.js';
import type { Database } from './db/client.js';
import { AppError } from './errors.js';
import { accessLog } from './http/access-log.js';
import { requireAuth } from './http/authenticate.js';
import { drainUnreadBody } from './http/drain-unread-body.js';
import { onError, onNotFound } from './http/errors.js';
import { createMetrics, passwordCounters } from './http/metrics.js';
import { documentUnsupportedMediaType, newRouter } from './http/openapi.js';
import { requestContext } from './http/request-context.js';
import type { Logger } from './lib/logger.js';
import type { ScryptParams } from './lib/password.js';
import { agentRoutes, PREDICTION_USAGE_PATH } from './routes/agents.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { auditLogRoutes } from './routes/audit-log.js';
import { authRoutes } from './routes/auth.js';
import { batchJobRoutes } from './routes/batch-jobs.js';
import { billingRoutes } from './routes/billing.js';
import { billingWebhookRoutes } from './routes/billing-webhooks.js';
import { DEFAULT_DASHBOARD_DIR, dashboardRoutes } from './routes/dashboard.js';
import { deploymentRoutes } from './routes/deployments.js';
import type { RouteDeps } from './routes/deps.js';
import { docsRoutes } from './routes/docs.js';
import { experimentRoutes } from './routes/experiments.js';
import { fileRoutes } from './routes/files.js';
import { imageRoutes, internalImageRoutes } from './routes/images.js';
import { internalRoutes } from './routes/internal.js';
import { internalAgentRoutes } from './routes/internal-agents.js';
import { internalAutoscalingRoutes } from './routes/internal-autoscaling.js';
import { internalBillingRoutes } from './routes/internal-billing.js';
import { internalNotebookRoutes } from './routes/internal-notebooks.js';
import { internalOrgRoutes } from './routes/internal-orgs.js';
import { internalSchedulingRoutes } from './routes/internal-scheduling.js';
import { internalSessionRoutes } from './routes/internal-sessions.js';
import { internalSigningKeyRoutes } from './routes/internal-signing-keys.js';
import { internalUsageRoutes, USAGE_PATH } from './routes/internal-usage.js';
import { invitationRoutes } from './routes/invitations.js';
import { logRoutes } from './routes/logs.js';
import { modelRoutes } from './routes/models.js';
import { modelVersionRoutes } from './routes/models-versions.js';
import { MONITORING_BODY_PATHS, monitoringRoutes } from './routes/monitoring.js';
import { notebookRoutes } from './routes/notebooks.js';
import { notebookVolumeRoutes } from './routes/notebooks-volumes.js';
import { orgRoutes } from './routes/orgs.js';
import { runRoutes } from './routes/runs.js';
import { runArtifactRoutes } from './routes/runs-artifacts.js';
import { storageRoutes } from './routes/storage.js';
import { systemRoutes } from './routes/system.js';
import { DEFAULT_HEARTBEAT_INTERVAL_SECONDS } from './services/agents/deps.js';
import { DesiredStateChanges } from './services/agents/desired-state-changes.js';
import {
  DEFAULT_PASSWORD_WORK,
  PasswordWork,
  type PasswordWorkSettings,
} from './services/auth/password-work.js';
import { AuthThrottle, DEFAULT_THROTTLE, type ThrottleSettings } from './services/auth/throttle.js';
import { type BatchSettings, batchDepsFor } from './services/batch/compose.js';
import { fileInUse } from './services/batch/jobs.js';
import type { StripeGateway } from './services/billing/stripe/gateway.js';
import type { DriftSettings } from './services/drift/ingest-drift.js';
import { DEFAULT_MAX_ARTIFACT_BYTES } from './services/experiments/limits.js';
import { DEFAULT_MAX_MODEL_BYTES } from './services/models/deps.js';
import { DEFAULT_EDGE_PUBLIC_URL } from './services/notebooks/deps.js';
import type { DispatchSettings } from './services/notifications/dispatcher.js';
import type { InvitationLimits } from './services/orgs/invitations.js';
import { LoadSignals } from './services/scheduler/load-signals.js';
import { RoutingSnapshots } from './services/scheduler/routing-snapshot.js';
import { RoutingWatch } from './services/scheduler/routing-watch.js';
import { noScheduler, type SchedulerTrigger } from './services/scheduler/trigger.js';
import { FsObjectStore } from './storage/fs-store.js';
import type { ObjectStore } from './storage/object-store.js';

export interface AppDeps {
  db: Database;
  logger: Logger;
  signingKeys: SigningKeyStore;
  issuer: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  edgeServiceToken: string;
  maxBodyBytes: number;
  /** The most a notebook's files may take as one tar; default 2 GiB (tests make it small). */
  maxNotebookVolumeBytes?: number;
  trustProxy: boolean;
  /** Cheaper scrypt for tests only; production uses the default cost. */
  scrypt?: ScryptParams;
  /** Login and registration throttling thresholds (MERIDIAN_AUTH_* in config.ts); defaults in DEFAULT_THROTTLE. */
  throttle?: Partial<ThrottleSettings>;
  /** Bounds of the scrypt queue (MERIDIAN_PASSWORD_*); defaults in DEFAULT_PASSWORD_WORK. */
  passwordWork?: Partial<Omit<PasswordWorkSettings, 'scrypt'>>;
  collectDefaultMetrics?: boolean;
  /** Model files and run artifacts: the filesystem store (embedded default) or S3. */
  objectStore: ObjectStore;
  /** Largest part a signed part URL of the filesystem store accepts; default 64 MiB. */
  maxUploadPartBytes?: number;
  /** Largest run artifact one upload may carry; default 512 MiB. */
  maxArtifactBytes?: number;
  /** Largest model file one version may hold; default 2 GiB. */
  maxModelBytes?: number;
  /** Bearer credential of platform operators for /internal/v1/agents routes (bootstrap tokens). */
  operatorToken: string;
  /** Platform-wide key the edge signs data-plane requests with; agents receive it when they register. */
  dataPlaneSigningKey: string;
  /** How often agents heartbeat; default 15 s. */
  agentHeartbeatIntervalSeconds?: number;
  /** How long a removed replica's lines are shown with the live ones; default 1 h. */
  endedReplicaLogsMs?: number;
  /** How often a followed log stream sends a heartbeat while quiet; default 15 s. */
  logHeartbeatMs?: number;
  /** Wakes desired-state long polls; tests pass their own to trigger changes. */
  desiredStateChanges?: DesiredStateChanges;
  /** Told when deployments, notebooks or agents change; default: no scheduler runs in this app. */
  scheduler?: SchedulerTrigger;
  /** Load the agents and the edge report, read by the scheduler's autoscaler (main.ts gives both the same one). */
  loadSignals?: LoadSignals;
  /** Where users reach the edge (notebook URLs); default http://127.0.0.1:8787. */
  edgePublicUrl?: string;
  /** Notebooks' own origins are `nb-<id>.<this>` (MERIDIAN_NOTEBOOK_DOMAIN); default notebooks.localhost. */
  notebookDomain?: string;
  /** The image of a notebook created without one (MERIDIAN_NOTEBOOK_IMAGE); default meridian/notebook:1. */
  notebookImage?: string;
  /** The web dashboard's build served at `/`; default dashboard/dist of this repository. */
  dashboardDir?: string;
  /**
   * Stripe: `gateway` when a secret key is configured (reconciliation), `webhookSecret` for the webhook
   * endpoint. Either may be absent; the routes then answer 503.
   */
  stripe?: { gateway?: StripeGateway; webhookSecret?: string };
  /** Notification delivery settings (MERIDIAN_WEBHOOK_*, SMTP) for the test-delivery route; default: no private targets. */
  monitoring?: { dispatch?: DispatchSettings; drift?: DriftSettings };
  /** Files and batch jobs: limits, and the runner (main.ts starts one) that routes kick; absent: none runs. */
  batch?: BatchSettings & { runner?: { kick(cancelledJobId?: string): void } };
  /** Bounds on an org's invitations; default DEFAULT_INVITATION_LIMITS (50 pending, 200 a day). */
  invitationLimits?: InvitationLimits;
}

/** Upload routes that stream their body with their own size limit instead of the global JSON one. */
function streamsOwnBody(path: string): boolean {
  return (
    path.startsWith('/v1/storage/uploads/') ||
    /^\/v1\/models\/[^/]+\/versions(\/|$)/.test(path) ||
    /^\/v1\/runs\/[^/]+\/artifacts(\/|$)/.test(path) ||
    path === '/v1/files' ||
    /^\/agent\/v1\/notebooks\/[^/]+\/volume$/.test(path)
  );
}

/** Builds the whole control-plane HTTP app from its dependencies; main.ts and tests both call this. */
export function createApp(deps: AppDeps) {
  const accessTokens = new AccessTokens(deps.signingKeys, deps.issuer, deps.accessTokenTtlSeconds);
  const metrics = createMetrics(deps.collectDefaultMetrics ?? false);
  const identityCache = new IdentityCache();
  const sessions = new SessionCache();
  const counters = passwordCounters(metrics.registry);
  const passwords = new PasswordWork(
    { ...DEFAULT_PASSWORD_WORK, ...deps.passwordWork, ...(deps.scrypt ? { scrypt: deps.scrypt } : {}) },
    counters.onCheck,
    counters.onRefused,
  );
  const routeDeps: RouteDeps = {
    db: deps.db,
    auth: {
      db: deps.db,
      accessTokens,
      refreshTokenTtlSeconds: deps.refreshTokenTtlSeconds,
      sessions,
      passwords,
      throttle: new AuthThrottle(deps.db, { ...DEFAULT_THROTTLE, ...deps.throttle }),
    },
    requireAuth: requireAuth({ db: deps.db, accessTokens, identities: identityCache, sessions }),
    identityCache,
  };

  // One instance for every route that changes an agent's desired state, so its long polls wake.
  const desiredStateChanges = deps.desiredStateChanges ?? new DesiredStateChanges();
  const loadSignals = deps.loadSignals ?? new LoadSignals();

  const app = newRouter();
  app.use(drainUnreadBody());
  app.use(requestContext(deps.trustProxy));
  app.use(metrics.middleware);
  app.use(accessLog(deps.logger));
  const limitBody = bodyLimit({
    maxSize: deps.maxBodyBytes,
    onError: () => {
      throw new AppError('payload_too_large', `The request body is larger than ${deps.maxBodyBytes} bytes`);
    },
  });
  // GET and HEAD carry no body; skipping them also spares node-server building a full Request per call.
  // The edge's usage batches have a larger limit of their own.
  const skipsBodyLimit = (method: string, path: string) =>
    method === 'GET' ||
    method === 'HEAD' ||
    streamsOwnBody(path) ||
    path === USAGE_PATH ||
    path === PREDICTION_USAGE_PATH ||
    MONITORING_BODY_PATHS.includes(path);
  app.use((c, next) => (skipsBodyLimit(c.req.method, c.req.path) ? next() : limitBody(c, next)));

  app.route('/', systemRoutes({ db: deps.db, registry: metrics.registry, signingKeys: deps.signingKeys }));
  app.route('/', docsRoutes());
  app.route('/', authRoutes(routeDeps));
  app.route('/', orgRoutes(routeDeps));
  app.route(
    '/',
    invitationRoutes({
      ...routeDeps,
      // The mailer the notification channels use; the dashboard that answers invitations is on `issuer`.
      ...(deps.monitoring?.dispatch?.mailer ? { mailer: deps.monitoring.dispatch.mailer } : {}),
      publicUrl: deps.issuer,
      logger: deps.logger,
      ...(deps.invitationLimits ? { limits: deps.invitationLimits } : {}),
    }),
  );
  app.route('/', apiKeyRoutes(routeDeps));
  app.route('/', auditLogRoutes(routeDeps));
  app.route('/', imageRoutes(routeDeps));
  app.route('/', billingRoutes(routeDeps));
  app.route(
    '/',
    billingWebhookRoutes({ db: deps.db, logger: deps.logger, webhookSecret: deps.stripe?.webhookSecret }),
  );
  app.route('/', internalRoutes({ ...routeDeps, edgeServiceToken: deps.edgeServiceToken }));
  app.route(
    '/',
    internalAgentRoutes({
      db: deps.db,
      operatorToken: deps.operatorToken,
      changes: desiredStateChanges,
      scheduler: deps.scheduler,
    }),
  );
  // The service routes' common needs: the database and the two service credentials that guard them.
  const service = { db: deps.db, edgeServiceToken: deps.edgeServiceToken, operatorToken: deps.operatorToken };
  app.route('/', internalSigningKeyRoutes({ ...service, signingKeys: deps.signingKeys }));
  app.route('/', internalOrgRoutes(service));
  app.route('/', internalNotebookRoutes(service));
  app.route('/', internalImageRoutes(service));
  app.route('/', internalSessionRoutes(service));
  app.route('/', internalUsageRoutes(service));
  app.route(
    '/',
    internalBillingRoutes({
      db: deps.db,
      logger: deps.logger,
      operatorToken: deps.operatorToken,
      stripe: deps.stripe?.gateway,
    }),
  );
  app.route(
    '/',
    internalSchedulingRoutes({
      db: deps.db,
      routing: new RoutingSnapshots(deps.db),
      scheduler: deps.scheduler ?? noScheduler,
      edgeServiceToken: deps.edgeServiceToken,
      operatorToken: deps.operatorToken,
    }),
  );
  const agentDeps = {
    db: deps.db,
    changes: desiredStateChanges,
    heartbeatIntervalSeconds: deps.agentHeartbeatIntervalSeconds ?? DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
    dataPlaneSigningKey: deps.dataPlaneSigningKey,
    objectStore: deps.objectStore,
    ...(deps.scheduler ? { scheduler: deps.scheduler } : {}),
    // recordUsage logs usage it cannot bill (a workload without an owner) with it.
    logger: deps.logger,
  };
  app.route('/', agentRoutes({ ...agentDeps, load: loadSignals }));
  // Notebooks' files, saved by the agent that stopped one and fetched by the one that starts it next.
  app.route(
    '/',
    notebookVolumeRoutes({
      ...agentDeps,
      objectStore: deps.objectStore,
      ...(deps.maxNotebookVolumeBytes === undefined ? {} : { maxVolumeBytes: deps.maxNotebookVolumeBytes }),
    }),
  );
  app.route(
    '/',
    internalAutoscalingRoutes({
      db: deps.db,
      scheduler: deps.scheduler ?? noScheduler,
      signals: loadSignals,
      watch: new RoutingWatch(new RoutingSnapshots(deps.db)),
      edgeServiceToken: deps.edgeServiceToken,
    }),
  );
  app.route(
    '/',
    monitoringRoutes({
      ...routeDeps,
      monitoring: {
        edgeServiceToken: deps.edgeServiceToken,
        agent: agentDeps,
        ...(deps.monitoring?.dispatch
          ? { dispatch: { logger: deps.logger, ...deps.monitoring.dispatch } }
          : {}),
        ...(deps.monitoring?.drift ? { drift: deps.monitoring.drift } : {}),
      },
    }),
  );
  const experimentDeps = {
    objectStore: deps.objectStore,
    logger: deps.logger,
    maxArtifactBytes: deps.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES,
  };
  app.route('/', experimentRoutes({ ...routeDeps, experiments: experimentDeps }));
  app.route('/', runRoutes({ ...routeDeps, experiments: experimentDeps }));
  app.route('/', runArtifactRoutes({ ...routeDeps, experiments: experimentDeps }));
  const modelDeps = {
    db: deps.db,
    store: deps.objectStore,
    logger: deps.logger,
    maxModelBytes: deps.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES,
  };
  app.route('/', modelRoutes({ ...routeDeps, models: modelDeps }));
  app.route('/', modelVersionRoutes({ ...routeDeps, models: modelDeps }));
  const scheduling = { db: deps.db, scheduler: deps.scheduler ?? noScheduler, changes: desiredStateChanges };
  app.route('/', deploymentRoutes({ ...routeDeps, deployments: scheduling }));
  app.route(
    '/',
    notebookRoutes({
      ...routeDeps,
      notebooks: {
        ...scheduling,
        objectStore: deps.objectStore,
        logger: deps.logger,
        edgePublicUrl: deps.edgePublicUrl ?? DEFAULT_EDGE_PUBLIC_URL,
        notebookDomain: deps.notebookDomain ?? DEFAULT_NOTEBOOK_DOMAIN,
        ...(deps.notebookImage ? { defaultImage: deps.notebookImage } : {}),
      },
    }),
  );
  // Workloads' lines, read from their agents with a signature under each agent's own data-plane key.
  app.route(
    '/',
    logRoutes({
      ...routeDeps,
      logs: {
        db: deps.db,
        dataPlaneSigningKey: deps.dataPlaneSigningKey,
        ...(deps.endedReplicaLogsMs === undefined ? {} : { endedReplicaLogsMs: deps.endedReplicaLogsMs }),
        ...(deps.logHeartbeatMs === undefined ? {} : { heartbeatMs: deps.logHeartbeatMs }),
      },
    }),
  );
  const batch = batchDepsFor(deps, deps.batch);
  const batchRunner = deps.batch?.runner ?? { kick: () => {} };
  app.route(
    '/',
    fileRoutes({ ...routeDeps, fileDeps: batch.files, inUse: (fileId) => fileInUse(batch, fileId) }),
  );
  app.route('/', batchJobRoutes({ ...routeDeps, batch, runner: batchRunner }));
  if (deps.objectStore instanceof FsObjectStore) {
    app.route(
      '/',
      storageRoutes({ store: deps.objectStore, maxPartBytes: deps.maxUploadPartBytes ?? 64 * 1024 * 1024 }),
    );
  }

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A user access token (JWT) or an API key (mk_live_… / mk_test_…)',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'edgeService', { type: 'http', scheme: 'bearer' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'operatorToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'The platform operator token (MERIDIAN_OPERATOR_TOKEN, or the data dir)',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'agentCredential', {
    type: 'http',
    scheme: 'bearer',
    description: 'The credential a gpu-agent received when it registered (mac_…)',
  });
  // Built once, on first request, after every route has registered.
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get('/openapi.json', (c) => {
    document ??= documentUnsupportedMediaType(
      app.getOpenAPI31Document({
        openapi: '3.1.0',
        info: {
          title: 'Meridian control plane',
          version: '0.1.0',
          description: 'Management API: identity, organisations, API keys and the audit log.',
        },
        servers: [{ url: deps.issuer }],
      }),
    );
    return c.json(document);
  });

  // Last: it answers only GETs no route above took, outside the API's paths.
  app.route(
    '/',
    dashboardRoutes({
      dir: deps.dashboardDir ?? DEFAULT_DASHBOARD_DIR,
      edgePublicUrl: deps.edgePublicUrl ?? DEFAULT_EDGE_PUBLIC_URL,
    }),
  );
  app.notFound(onNotFound);
  app.onError(onError(deps.logger));
  return app;
}
