import { mkdir } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { DesiredState, HostInventory } from '@meridian/protocol';
import { ModelCache } from '../cache/model-cache.js';
import type { AgentConfig } from '../config.js';
import { DataPlaneKeys } from '../data-plane/keys.js';
import { createDataPlaneListener } from '../data-plane/listener.js';
import { InferenceMetrics } from '../data-plane/metrics.js';
import { type MetricsListener, startMetricsListener } from '../data-plane/metrics-listener.js';
import type { ModelServers } from '../data-plane/model-servers.js';
import { withDataPlaneTimeouts } from '../data-plane/server-timeouts.js';
import { collectHostInventory } from '../inventory/host-inventory.js';
import { DeploymentMonitor } from '../monitoring/deployment-monitor.js';
import { MonitoringReporter } from '../monitoring/monitoring-reporter.js';
import { dropSpareWorker, keepSpareWorker } from '../onnx/worker-session.js';
import { ApiClient } from './api-client.js';
import { runDesiredStateLoop } from './desired-state-loop.js';
import { EndedWorkloadLogs } from './ended-workload-logs.js';
import { HeartbeatLoop } from './heartbeat-loop.js';
import { LoadReporter } from './load-reporter.js';
import { LoggedRuntime } from './logged-runtime.js';
import type { Logger } from './logger.js';
import type { NotebookLeftovers } from './notebook-leftovers.js';
import { OnnxWorkloadRuntime } from './onnx-runtime.js';
import { Reconciler } from './reconciler.js';
import { ensureRegistered, storeDataPlaneKey } from './registration.js';
import { ServedModels } from './served-models.js';
import { UsageJournal } from './usage-journal.js';
import { UsageMeter } from './usage-meter.js';
import { PredictionUsageReporter } from './usage-prediction-reporter.js';
import { UsageReporter } from './usage-reporter.js';
import { toWireInventory } from './wire-inventory.js';
import { WorkloadLogs, withWorkloadFailures } from './workload-logs.js';
import type { WorkloadRuntime } from './workload-runtime.js';
import { WorkloadStore } from './workload-store.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentDeps {
  config: AgentConfig;
  log: Logger;
  /** Where the edge reaches the data plane; default http://<listen host>:<bound port>. */
  dataPlaneUrl?: string;
  /** Runtimes besides onnx (docker, process), tried after it. */
  extraRuntimes?: WorkloadRuntime[];
  /** The model cache; default: one on config.modelCacheDir (main.ts shares its own with the docker runtime). */
  cache?: ModelCache;
  /** Custom model servers the extra runtimes run: the data plane relays their deployments' calls to them. */
  modelServers?: ModelServers;
  usageIntervalMs?: number;
  /** Workloads' recent lines; default: under the data dir's workload-logs/ (main.ts passes the one it built). */
  workloadLogs?: WorkloadLogs;
  /** What notebooks stopped here keep on this host: removed after each desired state once deleted. */
  notebookLeftovers?: NotebookLeftovers;
}

export interface RunningAgent {
  agentId: string;
  dataPlaneUrl: string;
  /**
   * Stops the loops, reports usage once more and closes. Workloads stay on record for the next start to
   * adopt; with `leaveWorkloadsRunning` the ready containers and processes keep running for it to take back,
   * else every workload is stopped.
   */
  stop(options?: { leaveWorkloadsRunning?: boolean }): Promise<void>;
}

const hostPart = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/**
 * Brings the agent up: the data plane listens first (so a taken port fails before anything is spent; it
 * answers 401 until the signing key is known), then the agent registers or reuses its credential, adopts
 * the workloads it had, and runs its heartbeat, desired-state and usage loops.
 */
export async function startAgent(deps: AgentDeps): Promise<RunningAgent> {
  const { config, log } = deps;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const metrics = new InferenceMetrics();
  const monitor = new DeploymentMonitor({ driftSampleRate: config.driftSampleRate });
  const models = new ServedModels();
  const keys = new DataPlaneKeys();
  const workloadLogs = deps.workloadLogs ?? new WorkloadLogs(join(config.dataDir, 'workload-logs'));
  // A removed replica's lines stay readable for a while: they are the ones that served its last calls.
  const endedLogs = new EndedWorkloadLogs(
    workloadLogs,
    join(config.dataDir, 'workload-logs-ended.json'),
    config.endedLogRetention,
  );
  // Set once the onnx runtime exists: a failed request's line goes to the log of the workload it reached.
  let onnxLogged: LoggedRuntime | undefined;
  // Calls a previous run answered and did not seal are sealed now; this run's calls go to a new generation.
  const journal = await UsageJournal.open(config.usageJournalDir, { fsync: config.usageJournalFsync, log });
  const dataPlane = createDataPlaneListener({
    models,
    ...(deps.modelServers ? { modelServers: deps.modelServers } : {}),
    metrics,
    monitor,
    signingKey: (generation) => keys.get(generation),
    // It listens before it registers (the address it registers is the one it got): until then, a call is
    // answered as by a replica that is down, so the edge holds it rather than passing on a 401.
    keyPending: () => keys.generation === undefined,
    journal,
    // Failed requests (onnxruntime's errors, internal ones) go to the agent's log, one JSON line each, and
    // to the log of the workload that failed them, with their request id.
    log: withWorkloadFailures(log, workloadLogs, (name, version) =>
      onnxLogged?.servingWorkload(name, version),
    ),
    workloadLogs: endedLogs,
  });
  let server: Server;
  let port: number;
  try {
    ({ server, port } = await listen(dataPlane, config.listen.host, config.listen.port));
  } catch (err) {
    await journal.close();
    throw err;
  }
  const closeDataPlane = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      if ('closeAllConnections' in server) server.closeAllConnections();
    });
  // Prometheus scrapes there without a signature; a taken address fails the start, as the data plane's does.
  let metricsListener: MetricsListener | undefined;
  try {
    if (config.metricsListen) metricsListener = await startMetricsListener(metrics, config.metricsListen);
  } catch (err) {
    await closeDataPlane();
    await journal.close();
    throw err;
  }
  if (metricsListener) log.info('metrics listening', { url: `${metricsListener.url}/metrics` });
  const closeServer = async () => {
    await metricsListener?.close();
    await closeDataPlane();
    await journal.close();
  };

  const stopping = new AbortController();
  let lastInventory: HostInventory | undefined;
  const inventory = async () => {
    const host = await collectHostInventory({ nvidiaSmiPath: config.nvidiaSmiPath, dataDir: config.dataDir });
    lastInventory = toWireInventory(host);
    return lastInventory;
  };
  const dataPlaneUrl = deps.dataPlaneUrl ?? `http://${hostPart(config.listen.host)}:${port}`;
  const api = new ApiClient({ baseUrl: config.controlPlaneUrl });
  let registered: Awaited<ReturnType<typeof ensureRegistered>>;
  try {
    registered = await ensureRegistered({
      api,
      dataDir: config.dataDir,
      controlPlaneUrl: config.controlPlaneUrl,
      bootstrapToken: config.bootstrapToken,
      describeHost: async () => ({
        hostname: hostname().slice(0, 253) || 'unknown',
        agentVersion: AGENT_VERSION,
        dataPlaneUrl,
        inventory: await inventory(),
        runtimes: ['onnx', ...(deps.extraRuntimes ?? []).map((r) => r.name)],
      }),
      log,
      signal: stopping.signal,
    });
  } catch (err) {
    await closeServer();
    throw err;
  }
  if (registered.dataPlaneKey) keys.update(registered.dataPlaneKey);
  const authed = api.withCredential(registered.credential);
  // A rotation arrives with the desired state: taken at once, and stored so a restart starts with it.
  let credential = registered;
  const takeKey = async (state: DesiredState) => {
    const next = state.dataPlaneKey;
    if (!next || next.generation === keys.generation) return;
    keys.update(next);
    credential = await storeDataPlaneKey(config.dataDir, credential, next);
    log.info('data-plane key updated', { generation: next.generation });
  };

  const cache = deps.cache ?? new ModelCache(config.modelCacheDir, { budgetBytes: config.diskBudgetBytes });
  const session = {
    executionProviders: config.executionProviders,
    ...(config.intraOpThreads === undefined ? {} : { intraOpNumThreads: config.intraOpThreads }),
    log: (msg: string, fields: Record<string, unknown>) => log.warn(msg, fields),
  };
  const onnxRuntime = new OnnxWorkloadRuntime({ cache, models, metrics, session });
  // A model's worker thread is started before it is needed, so a cold start loads only the model.
  keepSpareWorker();
  const onnx = new LoggedRuntime(onnxRuntime, {}, workloadLogs);
  onnxLogged = onnx;
  const meter = new UsageMeter();
  const usage = new UsageReporter(config.dataDir, meter, log);
  await usage.load();
  const predictions = new PredictionUsageReporter(journal, log);
  // Custom model servers' replicas report their relayed calls, so they scale (and stay up) on load too.
  const load = new LoadReporter(() => [...onnxRuntime.loads(), ...(deps.modelServers?.loads() ?? [])], log);
  const monitoring = new MonitoringReporter(monitor, log);
  let heartbeat: HeartbeatLoop | undefined;
  const reconciler = new Reconciler({
    runtimes: [onnx, ...(deps.extraRuntimes ?? [])],
    store: new WorkloadStore(config.dataDir),
    usage: meter,
    hostHasGpus: () => (lastInventory?.gpus.length ?? 0) > 0,
    log,
    onChange: () => heartbeat?.poke(),
    onRemoved: (id) => endedLogs.ended(id),
  });
  await reconciler.restore();
  heartbeat = new HeartbeatLoop({
    api: authed,
    inventory,
    workloads: () => reconciler.statuses(),
    dataPlaneUrl,
    intervalSeconds: registered.heartbeatIntervalSeconds,
    log,
  });
  const loops = Promise.all([
    heartbeat.run(stopping.signal),
    runDesiredStateLoop(
      {
        api: authed,
        apply: async (s) => {
          await takeKey(s);
          await reconciler.apply(s);
          // After the apply, so the notebooks it stopped are saved and none it holds is touched.
          await deps.notebookLeftovers?.removeDeleted(s, authed);
        },
        log,
      },
      stopping.signal,
    ),
    usage.run(authed, deps.usageIntervalMs ?? config.usageIntervalMs, stopping.signal),
    predictions.run(authed, config.predictionUsageIntervalMs, stopping.signal),
    load.run(authed, config.loadReportIntervalMs, stopping.signal),
    monitoring.run(authed, config.monitoringIntervalMs, stopping.signal),
  ]);
  log.info('agent running', {
    agentId: registered.agentId,
    dataPlaneUrl,
    controlPlane: config.controlPlaneUrl,
  });

  return {
    agentId: registered.agentId,
    dataPlaneUrl,
    async stop(options = {}) {
      stopping.abort();
      await loops;
      await reconciler.shutdown({ leaveRunning: options.leaveWorkloadsRunning === true });
      await dropSpareWorker();
      // Time run up to now goes out once more; what cannot be sent now is resent (same seq) next start.
      await usage.flush(authed).catch(() => false);
      await metricsListener?.close();
      await closeDataPlane();
      // No call is answered any more: the last ones are sealed and sent (or sent at the next start).
      await predictions.flush(authed).catch(() => false);
      await monitoring.flush(authed).catch(() => false);
      await journal.close();
      workloadLogs.close();
      log.info('agent stopped', { agentId: registered.agentId });
    },
  };
}

function listen(listener: RequestListener, hostname: string, port: number) {
  return new Promise<{ server: Server; port: number }>((resolve, reject) => {
    const server = withDataPlaneTimeouts(createServer(listener));
    server.once('error', reject);
    server.listen(port, hostname, () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}
