import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { KeySealer, parseKek } from './auth/key-sealing.js';
import { SigningKeyStore } from './auth/signing-keys.js';
import { loadConfig } from './config.js';
import { openDatabase } from './db/client.js';
import { applyServerTimeouts } from './http/server-timeouts.js';
import { localSecret as secretIn, secureDataDir } from './lib/data-dir.js';
import { createLogger } from './lib/logger.js';
import { DesiredStateChanges } from './services/agents/desired-state-changes.js';
import { batchDepsFor } from './services/batch/compose.js';
import { BatchRunner } from './services/batch/runner.js';
import { billingJobs } from './services/billing/jobs.js';
import { StripeBilling } from './services/billing/stripe/runner.js';
import { SdkStripeGateway } from './services/billing/stripe/sdk-gateway.js';
import { wakeDeployment } from './services/deployments/wake.js';
import { addDefaultNotebookImage } from './services/images/images.js';
import { sweepAbandonedUploads } from './services/models/abandoned-uploads.js';
import { monitoringConfig } from './services/monitoring/config.js';
import { MonitoringJobs } from './services/monitoring/jobs.js';
import { SmtpMailer } from './services/notifications/email.js';
import { LoadSignals } from './services/scheduler/load-signals.js';
import { WorkersKvRoutingPublisher } from './services/scheduler/routing-publisher.js';
import { RoutingSnapshots } from './services/scheduler/routing-snapshot.js';
import { RoutingWatch } from './services/scheduler/routing-watch.js';
import { Scheduler } from './services/scheduler/scheduler.js';
import { FsObjectStore } from './storage/fs-store.js';
import type { ObjectStore } from './storage/object-store.js';
import { S3ObjectStore } from './storage/s3-store.js';

/** A secret from the environment, else one generated once into the data dir for local runs. */
function localSecret(dataDir: string, name: string, configured: string | undefined): string {
  return secretIn(join(dataDir, name), configured);
}

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
// Everything this process creates (database, WAL, objects, generated secrets) is private to its user.
process.umask(0o077);
secureDataDir(config.dataDir);
const { db, close } = await openDatabase(config.databaseUrl, config.databaseAuthToken);

/**
 * The key that seals the token signing key: MERIDIAN_SIGNING_KEY_KEK, or the file MERIDIAN_SIGNING_KEY_KEK_FILE
 * names, or one generated on first start into <data dir>/secrets/signing-key.kek (0600) for the embedded default.
 */
function signingKeySealer(): KeySealer {
  const previous = config.signingKeyKekPrevious.map((k, i) =>
    parseKek(k, `MERIDIAN_SIGNING_KEY_KEK_PREVIOUS[${i}]`),
  );
  if (config.signingKeyKek)
    return new KeySealer(parseKek(config.signingKeyKek, 'MERIDIAN_SIGNING_KEY_KEK'), previous);
  if (config.signingKeyKekFile) {
    // The operator's file: read as it is (a mounted secret may be read-only), but say so if others can read it.
    if ((statSync(config.signingKeyKekFile).mode & 0o077) !== 0) {
      logger.warn('the signing key KEK file is readable by other users; make it 0600', {
        file: config.signingKeyKekFile,
      });
    }
    return new KeySealer(
      parseKek(readFileSync(config.signingKeyKekFile, 'utf8'), config.signingKeyKekFile),
      previous,
    );
  }
  const file = join(config.dataDir, 'secrets', 'signing-key.kek');
  return new KeySealer(
    parseKek(
      secretIn(file, undefined, () => randomBytes(32).toString('base64url')),
      file,
    ),
    previous,
  );
}
const signingKeys = new SigningKeyStore(db, config.accessTokenTtlSeconds * 1000, {
  sealer: signingKeySealer(),
});
await signingKeys.init();
await addDefaultNotebookImage(db, config.notebookImage);
// Another instance may rotate the signing key; pick its new signer up within a minute.
const keyRefresh = setInterval(() => {
  signingKeys.refresh().catch((error: unknown) => logger.warn('signing key refresh failed', { error }));
}, 60_000);
keyRefresh.unref();
const objectStore: ObjectStore = config.s3
  ? new S3ObjectStore(config.s3)
  : new FsObjectStore(join(config.dataDir, 'objects'), {
      publicUrl: config.publicUrl,
      signingSecret: localSecret(config.dataDir, 'storage-signing-secret', config.storageSigningSecret),
    });

const desiredStateChanges = new DesiredStateChanges();
// Batch jobs run on whichever instance holds their lease; the routes kick it when a job is created or cancelled.
const batchRunner = new BatchRunner(
  batchDepsFor(
    {
      db,
      objectStore,
      logger,
      dataPlaneSigningKey: localSecret(config.dataDir, 'data-plane-signing-key', config.dataPlaneSigningKey),
    },
    {
      ...config.batch,
      // A job for a deployment at zero wakes it as a held edge call does (the autoscaler then keeps it up
      // while the agents report the job's lines in flight).
      wake: async (deploymentId) => {
        await wakeDeployment(
          { db, scheduler, signals: loadSignals, watch: new RoutingWatch(new RoutingSnapshots(db)) },
          deploymentId,
          1,
          0,
        );
      },
    },
  ),
  { instanceId: `cp-${localSecret(config.dataDir, 'instance-id', undefined).slice(0, 16)}` },
);
// Stable across restarts of this process (kept in the data dir): a restarted instance takes its own leases
// back at once instead of waiting for them to expire.
const instanceId = `cp-${localSecret(config.dataDir, 'instance-id', undefined).slice(0, 16)}`;
// The agents' and the edge's load reports, received by the routes and read by the scheduler's autoscaler.
const loadSignals = new LoadSignals();
const scheduler = new Scheduler({
  db,
  logger,
  changes: desiredStateChanges,
  signals: loadSignals,
  instanceId,
  ...config.scheduler,
  ...(config.routingKv ? { publisher: new WorkersKvRoutingPublisher(config.routingKv) } : {}),
});

// Usage goes to Stripe only with a secret key; without one, billing stays local (the embedded default).
const stripeGateway = config.stripe ? SdkStripeGateway.fromOptions(config.stripe) : undefined;
const stripeBilling =
  config.stripe && stripeGateway
    ? new StripeBilling({
        db,
        logger,
        gateway: stripeGateway,
        instanceId,
        intervalMs: config.stripe.pushIntervalMs,
        windowGraceMs: config.stripe.windowGraceMs,
      })
    : undefined;

// Alert evaluation and notifications run on whichever instance holds the monitoring lease.
const monitoring = monitoringConfig(process.env);
const mailer = monitoring.smtp ? new SmtpMailer(monitoring.smtp) : undefined;
const dispatch = {
  allowPrivate: monitoring.allowPrivateWebhooks,
  timeoutMs: monitoring.webhookTimeoutMs,
  retryBaseMs: monitoring.retryBaseMs,
  maxAttempts: monitoring.maxAttempts,
  ...(mailer ? { mailer } : {}),
};
const monitoringJobs = new MonitoringJobs({
  db,
  logger,
  instanceId,
  evaluateIntervalMs: monitoring.evaluateIntervalMs,
  dispatch,
});

const app = createApp({
  db,
  logger,
  signingKeys,
  issuer: config.publicUrl,
  accessTokenTtlSeconds: config.accessTokenTtlSeconds,
  refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
  edgeServiceToken: localSecret(config.dataDir, 'edge-service-token', config.edgeServiceToken),
  operatorToken: localSecret(config.dataDir, 'operator-token', config.operatorToken),
  dataPlaneSigningKey: localSecret(config.dataDir, 'data-plane-signing-key', config.dataPlaneSigningKey),
  agentHeartbeatIntervalSeconds: config.agentHeartbeatIntervalSeconds,
  endedReplicaLogsMs: config.scheduler.endedReplicaLogsMs,
  logHeartbeatMs: config.logHeartbeatMs,
  maxBodyBytes: config.maxBodyBytes,
  throttle: config.throttle,
  passwordWork: config.passwordWork,
  maxModelBytes: config.maxModelBytes,
  trustProxy: config.trustProxy,
  collectDefaultMetrics: true,
  objectStore,
  desiredStateChanges,
  scheduler,
  loadSignals,
  edgePublicUrl: config.edgePublicUrl,
  notebookDomain: config.notebookDomain,
  notebookImage: config.notebookImage,
  stripe: { gateway: stripeGateway, webhookSecret: config.stripeWebhookSecret },
  batch: { ...config.batch, runner: batchRunner },
  monitoring: { dispatch, drift: monitoring.drift },
});

const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) =>
  logger.info('control plane listening', {
    url: `http://${info.address}:${info.port}`,
    database: config.databaseUrl.split('?')[0],
    objectStore: config.s3 ? `s3://${config.s3.bucket}` : join(config.dataDir, 'objects'),
  }),
);
if ('keepAliveTimeout' in server) applyServerTimeouts(server);
scheduler.start();
// Storage byte-hours into the ledger every minute (the default interval); the Stripe push joins with `add`.
const billing = billingJobs(db, logger);
billing.start();
stripeBilling?.start();
monitoringJobs.start();
// Model uploads nobody finished go after a week; their parts would otherwise stay in storage for ever.
const uploadSweep = setInterval(() => {
  sweepAbandonedUploads({ db, store: objectStore, logger }).catch((error: unknown) =>
    logger.warn('abandoned upload sweep failed', { error }),
  );
}, 3_600_000);
uploadSweep.unref();

function shutdown(signal: string) {
  logger.info('shutting down', { signal });
  // Giving the scheduler lease up lets another instance take over at once instead of after it expires.
  void Promise.allSettled([
    scheduler.stop(),
    billing.stop(),
    stripeBilling?.stop(),
    monitoringJobs.stop(),
  ]).finally(() =>
    server.close(() => {
      close();
      process.exit(0);
    }),
  );
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
batchRunner.start();
// Gives the batch lease up on a clean stop (a restart under the same instance id takes it back at once anyway).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void batchRunner.stop());
