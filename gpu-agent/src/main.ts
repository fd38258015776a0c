// The agent's composition root: the only module that reads the environment.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { z } from 'zod';
import { startAgent } from './agent/agent.js';
import { GpuLedger } from './agent/gpu-assignment.js';
import { LoggedRuntime } from './agent/logged-runtime.js';
import { createJsonLogger } from './agent/logger.js';
import { NotebookLeftovers } from './agent/notebook-leftovers.js';
import { NotebookVolumes } from './agent/notebook-volumes.js';
import { RegistrationError, readCredential } from './agent/registration.js';
import { SupervisedRuntime } from './agent/supervised-runtime.js';
import { WorkloadLogs } from './agent/workload-logs.js';
import type { WorkloadRuntime } from './agent/workload-runtime.js';
import { ModelCache } from './cache/model-cache.js';
import { type AgentConfig, loadAgentConfig } from './config.js';
import { ModelServers } from './data-plane/model-servers.js';
import { probeGpus } from './inventory/probe-gpus.js';
import { DockerRuntime } from './runtimes/docker-runtime.js';
import { ProcessRuntime } from './runtimes/process-runtime.js';
import { WorkloadDirs } from './runtimes/workload-dirs.js';
import { WorkloadUsers } from './runtimes/workload-users.js';

const Extras = z.object({
  /** The bootstrap token in a file, for the local embedded run (`npm start`), which writes it there. */
  MERIDIAN_AGENT_BOOTSTRAP_TOKEN_FILE: z.string().min(1).optional(),
  /** Where the edge reaches this agent, when not at its listen address (NAT, proxy, public DNS name). */
  MERIDIAN_AGENT_DATA_PLANE_URL: z.url({ protocol: /^https?$/ }).optional(),
});

const log = createJsonLogger();

/**
 * Docker and process workloads, docker first where both can run one. Their owner label is derived from the
 * data dir, not the agent id: the runtimes exist before registration, and whoever keeps this data dir
 * (workloads.json with it) owns what they started, even after registering anew. Whether tenant workloads
 * can be isolated here is said once, now: if not, each is refused with the reason in its status.
 */
async function buildExtraRuntimes(
  config: AgentConfig,
  logs: WorkloadLogs,
  models: { cache: ModelCache; servers: ModelServers },
): Promise<{ runtimes: WorkloadRuntime[]; volumes: NotebookVolumes }> {
  const ownerId = `host-${createHash('sha256').update(config.dataDir).digest('hex').slice(0, 16)}`;
  // The agent's state (its credential above all) is its own: tightened too when an older run left it looser.
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await chmod(config.dataDir, 0o700);
  const workloads = new WorkloadDirs(config.workloadsDir);
  // One ledger for both runtimes: a GPU held by a container is not free for a process, and the reverse.
  const gpus = new GpuLedger(async () => (await probeGpus({ nvidiaSmiPath: config.nvidiaSmiPath })).gpus);
  // A notebook's files go to the control plane's object storage when it stops, so it can start anywhere.
  const volumes = new NotebookVolumes({
    dirs: workloads,
    users: new WorkloadUsers(),
    access: () => readCredential(config.dataDir, config.controlPlaneUrl),
    stateDir: join(config.dataDir, 'notebook-saves'),
  });
  const runtimes: WorkloadRuntime[] = [];
  if (config.docker) {
    const docker = new DockerRuntime({ docker: new Docker(config.docker), agentId: ownerId, workloads });
    const fenced = await docker.isolationStatus();
    if (!fenced.ok) log.warn('containers cannot be isolated on this host: they will be refused', fenced);
    runtimes.push(
      new LoggedRuntime(
        new SupervisedRuntime({
          name: 'docker',
          supervisor: docker,
          gpus,
          volumes,
          modelFiles: models.cache,
          modelServers: models.servers,
        }),
        docker,
        logs,
      ),
    );
  }
  const processes = new ProcessRuntime({ dataDir: config.processRuntimeDir, agentId: ownerId, workloads });
  const isolation = await processes.isolationStatus();
  if (isolation.ok) {
    log.info('tenant workloads run isolated', { workloadsDir: config.workloadsDir });
    // Volumes of the old layout lived in the agent's private dir; their next start hands them to their user.
    const moved = await workloads.adoptLegacyVolumes(join(config.processRuntimeDir, 'volumes'));
    if (moved.length > 0) log.info('moved notebook volumes to the workloads dir', { volumes: moved });
  } else {
    log.warn('tenant workloads cannot be isolated on this host: process-runtime workloads will be refused', {
      reason: isolation.reason,
    });
  }
  runtimes.push(
    new LoggedRuntime(
      new SupervisedRuntime({ name: 'process', supervisor: processes, gpus, volumes }),
      processes,
      logs,
    ),
  );
  return { runtimes, volumes };
}

function readTokenFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    // Absent once the agent has registered and start.mjs has nothing to hand over: the credential serves.
    return undefined;
  }
}

try {
  const env = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== ''));
  const extras = Extras.parse(env);
  const fileToken =
    env.MERIDIAN_AGENT_BOOTSTRAP_TOKEN === undefined && extras.MERIDIAN_AGENT_BOOTSTRAP_TOKEN_FILE
      ? readTokenFile(extras.MERIDIAN_AGENT_BOOTSTRAP_TOKEN_FILE)
      : undefined;
  const config = loadAgentConfig(
    fileToken === undefined ? process.env : { ...process.env, MERIDIAN_AGENT_BOOTSTRAP_TOKEN: fileToken },
  );
  const workloadLogs = new WorkloadLogs(join(config.dataDir, 'workload-logs'));
  // One cache for the onnx runtime and custom model servers, and the servers the data plane relays to.
  const cache = new ModelCache(config.modelCacheDir, { budgetBytes: config.diskBudgetBytes });
  const modelServers = new ModelServers();
  const extra = await buildExtraRuntimes(config, workloadLogs, { cache, servers: modelServers });
  const agent = await startAgent({
    config,
    log,
    workloadLogs,
    cache,
    modelServers,
    extraRuntimes: extra.runtimes,
    notebookLeftovers: new NotebookLeftovers(extra.volumes, log),
    ...(extras.MERIDIAN_AGENT_DATA_PLANE_URL ? { dataPlaneUrl: extras.MERIDIAN_AGENT_DATA_PLANE_URL } : {}),
  });
  log.info('data plane listening', { url: agent.dataPlaneUrl, agentId: agent.agentId });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const { leaveWorkloadsRunning } = config;
    log.info('shutting down', { signal, workloads: leaveWorkloadsRunning ? 'left running' : 'stopped' });
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting anyway', { timeoutMs: config.stopTimeoutMs });
      process.exit(1);
    }, config.stopTimeoutMs);
    force.unref();
    agent.stop({ leaveWorkloadsRunning }).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  log.error(err instanceof RegistrationError ? 'cannot register' : 'agent failed to start', {
    error: message,
  });
  process.exit(1);
}
