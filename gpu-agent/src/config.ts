import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';

/** onnxruntime-node execution providers the agent knows how to ask for, in the user's order of preference. */
export const ExecutionProvider = z.enum(['cuda', 'tensorrt', 'cpu']);
export type ExecutionProvider = z.infer<typeof ExecutionProvider>;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

const providerList = z
  .string()
  .default('cpu')
  .transform((raw) =>
    raw
      .split(',')
      .map((p) => p.trim().toLowerCase())
      .filter((p) => p.length > 0),
  )
  .pipe(z.array(ExecutionProvider).min(1, 'name at least one execution provider'));

/** Where dockerode reaches the engine: a unix socket, or plain TCP (only on a trusted network: no TLS). */
export type DockerEndpoint = { socketPath: string } | { protocol: 'http'; host: string; port: number };

const dockerHost = z.string().transform((raw, ctx): DockerEndpoint => {
  const unix = /^unix:\/\/(\/.+)$/.exec(raw);
  if (unix?.[1]) return { socketPath: unix[1] };
  const tcp = /^tcp:\/\/([^:/]+):(\d{1,5})\/?$/.exec(raw);
  const port = Number(tcp?.[2]);
  if (tcp?.[1] && port > 0 && port <= 65535) return { protocol: 'http', host: tcp[1], port };
  ctx.addIssue({ code: 'custom', message: 'must be unix:///path/to/docker.sock or tcp://host:port' });
  return z.NEVER;
});

/** `host:port`, an IPv6 host in brackets (`[::1]:9091`); the host comes back without them, as listen() takes it. */
const listenAddress = z.string().transform((raw, ctx) => {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(raw);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host && port <= 65535) return { host, port };
  ctx.addIssue({ code: 'custom', message: 'must be host:port, e.g. 127.0.0.1:9091' });
  return z.NEVER;
});

/**
 * Agent configuration, read from the environment once in main.ts. With no environment at all the agent
 * serves on 127.0.0.1:9090 next to a control plane on 127.0.0.1:8080, on the CPU, caching under .data/agent.
 */
export const AgentConfig = z
  .object({
    MERIDIAN_AGENT_CONTROL_PLANE_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8080'),
    /** One-time token for the first registration; afterwards the agent uses the credential it was issued. */
    MERIDIAN_AGENT_BOOTSTRAP_TOKEN: z.string().min(16).optional(),
    MERIDIAN_AGENT_DATA_DIR: z.string().min(1).default('.data/agent'),
    /**
     * Root of workload volumes (each owned by its workload's user, 0700) and their runtime dirs; default
     * `workloads/` beside the agent's data dir (docs/adr/0005-agent-directory-layout.md).
     */
    MERIDIAN_AGENT_WORKLOADS_DIR: z.string().min(1).optional(),
    /** Disk the model cache may fill; least recently used models are evicted past it. */
    MERIDIAN_AGENT_DISK_BUDGET_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(20 * 1024 ** 3),
    MERIDIAN_AGENT_LISTEN_HOST: z.string().min(1).default('127.0.0.1'),
    MERIDIAN_AGENT_LISTEN_PORT: z.coerce.number().int().min(0).max(65535).default(9090),
    /** Comma list, most preferred first, e.g. `cuda,cpu`. */
    MERIDIAN_AGENT_EXECUTION_PROVIDERS: providerList,
    /** onnxruntime intra-op threads per session; unset lets onnxruntime choose. */
    MERIDIAN_AGENT_INTRA_OP_THREADS: z.coerce.number().int().min(1).max(256).optional(),
    MERIDIAN_AGENT_NVIDIA_SMI: z.string().min(1).default('nvidia-smi'),
    /** The Docker engine for container workloads, e.g. unix:///var/run/docker.sock; unset: no docker runtime. */
    MERIDIAN_AGENT_DOCKER_HOST: dockerHost.optional(),
    /**
     * Where Prometheus scrapes `/metrics` without the edge's signature, e.g. 127.0.0.1:9091; unset: nowhere
     * but the signed data plane. Anyone who reaches it reads the metrics, so bind it where only they can.
     */
    MERIDIAN_AGENT_METRICS_LISTEN: listenAddress.optional(),
    /** How often running time is reported for billing; shorter shows spend sooner, costs more requests. */
    MERIDIAN_AGENT_USAGE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    /** How often replicas' load goes to the autoscaler while they are busy: how soon it reacts to load. */
    MERIDIAN_AGENT_LOAD_REPORT_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
    /** How often the prediction-usage journal is sealed and sent: how soon calls show in billing. */
    MERIDIAN_AGENT_PREDICTION_USAGE_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(2_000),
    /** Share of each deployment's requests whose decoded inputs go into drift sketches (0 turns it off). */
    MERIDIAN_AGENT_DRIFT_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(0.1),
    MERIDIAN_AGENT_MONITORING_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
    /**
     * `true`: fdatasync the usage journal after each grouped write, so a recorded call survives a power cut,
     * not only a crash of the process (bench/usage-journal.ts measures the cost).
     */
    MERIDIAN_AGENT_USAGE_JOURNAL_FSYNC: z.enum(['true', 'false']).default('false'),
    /**
     * What SIGTERM/SIGINT does to the containers and processes the agent runs: `keep-workloads` leaves the
     * ready ones running for the next start to take back (an upgrade restart keeps notebooks' kernels);
     * `stop-workloads` stops them all (`npm start` and the tests, which promise nothing outlives them). To
     * empty a host, drain it at the control plane first.
     */
    MERIDIAN_AGENT_ON_STOP: z.enum(['keep-workloads', 'stop-workloads']).default('keep-workloads'),
    /**
     * The longest SIGTERM/SIGINT takes before the agent exits anyway: stopping notebooks and saving their files
     * (retried) happens in it. A save cut off leaves the files on this host, as after a crash.
     */
    MERIDIAN_AGENT_STOP_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    /** How long the lines of a workload removed from this host stay readable (the control plane's window). */
    MERIDIAN_AGENT_ENDED_LOG_RETENTION_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3600),
    /** Removed workloads whose lines are kept at most; the earliest removed are forgotten first. */
    MERIDIAN_AGENT_ENDED_LOG_WORKLOADS: z.coerce.number().int().min(0).max(256).default(32),
  })
  .superRefine((env, ctx) => {
    const providers = env.MERIDIAN_AGENT_EXECUTION_PROVIDERS;
    if (new Set(providers).size !== providers.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['MERIDIAN_AGENT_EXECUTION_PROVIDERS'],
        message: 'lists a provider twice',
      });
    }
    const cpuAt = providers.indexOf('cpu');
    if (cpuAt !== -1 && cpuAt !== providers.length - 1) {
      // onnxruntime never falls past the CPU provider, so anything after it would silently never run.
      ctx.addIssue({
        code: 'custom',
        path: ['MERIDIAN_AGENT_EXECUTION_PROVIDERS'],
        message: "'cpu' must come last: providers after it are never used",
      });
    }
    const metrics = env.MERIDIAN_AGENT_METRICS_LISTEN;
    if (
      metrics &&
      metrics.port !== 0 &&
      metrics.port === env.MERIDIAN_AGENT_LISTEN_PORT &&
      metrics.host === env.MERIDIAN_AGENT_LISTEN_HOST
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['MERIDIAN_AGENT_METRICS_LISTEN'],
        message: "is the data plane's own address; pick another port",
      });
    }
    const cp = new URL(env.MERIDIAN_AGENT_CONTROL_PLANE_URL);
    const cpPort = Number(cp.port || (cp.protocol === 'https:' ? 443 : 80));
    const sameHost =
      cp.hostname === env.MERIDIAN_AGENT_LISTEN_HOST ||
      (LOOPBACK_HOSTS.has(cp.hostname) && LOOPBACK_HOSTS.has(env.MERIDIAN_AGENT_LISTEN_HOST));
    if (sameHost && cpPort === env.MERIDIAN_AGENT_LISTEN_PORT) {
      ctx.addIssue({
        code: 'custom',
        path: ['MERIDIAN_AGENT_LISTEN_PORT'],
        message: `is the control plane's own address (${cp.host}); pick another port`,
      });
    }
  })
  .transform((raw) => {
    // Resolved once, here: every later join, cwd and argument sees an absolute path, whatever the cwd.
    const dataDir = resolve(raw.MERIDIAN_AGENT_DATA_DIR);
    const workloadsDir = resolve(raw.MERIDIAN_AGENT_WORKLOADS_DIR ?? join(dirname(dataDir), 'workloads'));
    return { ...raw, MERIDIAN_AGENT_DATA_DIR: dataDir, workloadsDir };
  })
  .superRefine((env, ctx) => {
    const inside = (dir: string, parent: string) => dir === parent || dir.startsWith(`${parent}/`);
    if (
      inside(env.workloadsDir, env.MERIDIAN_AGENT_DATA_DIR) ||
      inside(env.MERIDIAN_AGENT_DATA_DIR, env.workloadsDir)
    ) {
      // Workload users must reach their volumes, and must never reach the agent's credential.
      ctx.addIssue({
        code: 'custom',
        path: ['MERIDIAN_AGENT_WORKLOADS_DIR'],
        message: 'must lie outside the agent data dir (and not contain it)',
      });
    }
  })
  .transform((env) => ({
    controlPlaneUrl: env.MERIDIAN_AGENT_CONTROL_PLANE_URL.replace(/\/+$/, ''),
    bootstrapToken: env.MERIDIAN_AGENT_BOOTSTRAP_TOKEN,
    dataDir: env.MERIDIAN_AGENT_DATA_DIR,
    /** Where the model cache keeps its files and index. */
    modelCacheDir: join(env.MERIDIAN_AGENT_DATA_DIR, 'models'),
    diskBudgetBytes: env.MERIDIAN_AGENT_DISK_BUDGET_BYTES,
    listen: { host: env.MERIDIAN_AGENT_LISTEN_HOST, port: env.MERIDIAN_AGENT_LISTEN_PORT },
    executionProviders: env.MERIDIAN_AGENT_EXECUTION_PROVIDERS,
    intraOpThreads: env.MERIDIAN_AGENT_INTRA_OP_THREADS,
    nvidiaSmiPath: env.MERIDIAN_AGENT_NVIDIA_SMI,
    docker: env.MERIDIAN_AGENT_DOCKER_HOST,
    /** The unauthenticated metrics listener, when one is configured. */
    metricsListen: env.MERIDIAN_AGENT_METRICS_LISTEN,
    usageIntervalMs: env.MERIDIAN_AGENT_USAGE_INTERVAL_SECONDS * 1000,
    predictionUsageIntervalMs: env.MERIDIAN_AGENT_PREDICTION_USAGE_INTERVAL_MS,
    loadReportIntervalMs: env.MERIDIAN_AGENT_LOAD_REPORT_INTERVAL_MS,
    driftSampleRate: env.MERIDIAN_AGENT_DRIFT_SAMPLE_RATE,
    monitoringIntervalMs: env.MERIDIAN_AGENT_MONITORING_INTERVAL_MS,
    usageJournalFsync: env.MERIDIAN_AGENT_USAGE_JOURNAL_FSYNC === 'true',
    endedLogRetention: {
      retentionMs: env.MERIDIAN_AGENT_ENDED_LOG_RETENTION_SECONDS * 1000,
      maxWorkloads: env.MERIDIAN_AGENT_ENDED_LOG_WORKLOADS,
    },
    /** Whether a graceful stop leaves the ready containers and processes running, to be adopted. */
    leaveWorkloadsRunning: env.MERIDIAN_AGENT_ON_STOP === 'keep-workloads',
    stopTimeoutMs: env.MERIDIAN_AGENT_STOP_TIMEOUT_SECONDS * 1000,
    /** The prediction-usage journal and its sealed reports. */
    usageJournalDir: join(env.MERIDIAN_AGENT_DATA_DIR, 'prediction-usage'),
    /** Records and logs of workloads run as plain processes (private to the agent). */
    processRuntimeDir: join(env.MERIDIAN_AGENT_DATA_DIR, 'processes'),
    /** Workload volumes and runtime dirs, outside the agent's private data dir. */
    workloadsDir: env.workloadsDir,
  }));
export type AgentConfig = z.output<typeof AgentConfig>;

/** Parses the environment; throws one readable error naming every bad variable. */
export function loadAgentConfig(env: Record<string, string | undefined>): AgentConfig {
  // An empty variable (`FOO=` in a compose file or unit) means unset, not an empty value.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = AgentConfig.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid agent configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
