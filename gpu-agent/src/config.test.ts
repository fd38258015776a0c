import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from './config.js';

describe('loadAgentConfig', () => {
  it('resolves relative dirs once, against the cwd, and keeps workloads beside the agent data dir', () => {
    const config = loadAgentConfig({ MERIDIAN_AGENT_DATA_DIR: 'state/agent' });
    expect(config.dataDir).toBe(resolve('state/agent'));
    expect(config.processRuntimeDir).toBe(resolve('state/agent/processes'));
    expect(config.workloadsDir).toBe(resolve('state/workloads'));
    expect(
      loadAgentConfig({ MERIDIAN_AGENT_DATA_DIR: '/srv/a', MERIDIAN_AGENT_WORKLOADS_DIR: 'w' }),
    ).toMatchObject({
      dataDir: '/srv/a',
      workloadsDir: resolve('w'),
    });
  });

  it('refuses a workloads dir inside the agent data dir: workload users would pass through it', () => {
    expect(() =>
      loadAgentConfig({
        MERIDIAN_AGENT_DATA_DIR: '/srv/a',
        MERIDIAN_AGENT_WORKLOADS_DIR: '/srv/a/workloads',
      }),
    ).toThrow(/MERIDIAN_AGENT_WORKLOADS_DIR: must lie outside the agent data dir/);
  });

  it('runs with no environment at all: CPU only, port 9090, control plane on 8080, 20 GiB of cache', () => {
    expect(loadAgentConfig({})).toEqual({
      controlPlaneUrl: 'http://127.0.0.1:8080',
      bootstrapToken: undefined,
      dataDir: resolve('.data/agent'),
      modelCacheDir: resolve('.data/agent/models'),
      diskBudgetBytes: 20 * 1024 ** 3,
      listen: { host: '127.0.0.1', port: 9090 },
      executionProviders: ['cpu'],
      intraOpThreads: undefined,
      nvidiaSmiPath: 'nvidia-smi',
      docker: undefined,
      processRuntimeDir: resolve('.data/agent/processes'),
      workloadsDir: resolve('.data/workloads'),
      metricsListen: undefined,
      usageIntervalMs: 60_000,
      predictionUsageIntervalMs: 2_000,
      loadReportIntervalMs: 1_000,
      // A removed workload's lines: kept an hour, for at most 32 workloads.
      endedLogRetention: { retentionMs: 3_600_000, maxWorkloads: 32 },
      monitoringIntervalMs: 10_000,
      driftSampleRate: 0.1,
      usageJournalFsync: false,
      usageJournalDir: resolve('.data/agent/prediction-usage'),
      // A stop (an upgrade's restart) leaves containers and notebooks running for the next start.
      leaveWorkloadsRunning: true,
      // Long enough for a notebook's stop and a retried save of its files before the agent exits anyway.
      stopTimeoutMs: 60_000,
    });
  });

  it('bounds how long a stop may take, in whole seconds', () => {
    expect(loadAgentConfig({ MERIDIAN_AGENT_STOP_TIMEOUT_SECONDS: '120' }).stopTimeoutMs).toBe(120_000);
    for (const bad of ['0', '-5', '1.5', 'soon', '3601'])
      expect(() => loadAgentConfig({ MERIDIAN_AGENT_STOP_TIMEOUT_SECONDS: bad })).toThrow(
        /MERIDIAN_AGENT_STOP_TIMEOUT_SECONDS/,
      );
  });

  it('reads a GPU host configuration', () => {
    const config = loadAgentConfig({
      MERIDIAN_AGENT_CONTROL_PLANE_URL: 'https://cp.meridian.example/',
      MERIDIAN_AGENT_BOOTSTRAP_TOKEN: 'boot_0123456789abcdef',
      MERIDIAN_AGENT_DATA_DIR: '/var/lib/meridian',
      MERIDIAN_AGENT_DISK_BUDGET_BYTES: String(500 * 1024 ** 3),
      MERIDIAN_AGENT_LISTEN_HOST: '0.0.0.0',
      MERIDIAN_AGENT_LISTEN_PORT: '9443',
      MERIDIAN_AGENT_EXECUTION_PROVIDERS: ' CUDA , cpu ',
      MERIDIAN_AGENT_INTRA_OP_THREADS: '4',
      MERIDIAN_AGENT_NVIDIA_SMI: '/usr/bin/nvidia-smi',
    });
    expect(config).toMatchObject({
      controlPlaneUrl: 'https://cp.meridian.example',
      bootstrapToken: 'boot_0123456789abcdef',
      modelCacheDir: '/var/lib/meridian/models',
      diskBudgetBytes: 500 * 1024 ** 3,
      listen: { host: '0.0.0.0', port: 9443 },
      executionProviders: ['cuda', 'cpu'],
      intraOpThreads: 4,
      nvidiaSmiPath: '/usr/bin/nvidia-smi',
    });
  });

  it('treats an empty variable as unset', () => {
    const config = loadAgentConfig({ MERIDIAN_AGENT_INTRA_OP_THREADS: '', MERIDIAN_AGENT_LISTEN_PORT: '' });
    expect(config.intraOpThreads).toBeUndefined();
    expect(config.listen.port).toBe(9090);
  });

  it('stops every workload with the agent when told to (npm start, the tests)', () => {
    expect(loadAgentConfig({ MERIDIAN_AGENT_ON_STOP: 'stop-workloads' }).leaveWorkloadsRunning).toBe(false);
    expect(loadAgentConfig({ MERIDIAN_AGENT_ON_STOP: 'keep-workloads' }).leaveWorkloadsRunning).toBe(true);
  });

  it('names every bad variable in one error', () => {
    let message = '';
    try {
      loadAgentConfig({
        MERIDIAN_AGENT_CONTROL_PLANE_URL: 'ftp://cp',
        MERIDIAN_AGENT_DISK_BUDGET_BYTES: '20GB',
        MERIDIAN_AGENT_LISTEN_PORT: '70000',
        MERIDIAN_AGENT_EXECUTION_PROVIDERS: 'cuda,rocm',
        MERIDIAN_AGENT_INTRA_OP_THREADS: '0',
        MERIDIAN_AGENT_BOOTSTRAP_TOKEN: 'short',
        MERIDIAN_AGENT_ON_STOP: 'kill-everything',
      });
    } catch (err) {
      message = err instanceof Error ? err.message : String(err);
    }
    for (const name of [
      'MERIDIAN_AGENT_CONTROL_PLANE_URL',
      'MERIDIAN_AGENT_DISK_BUDGET_BYTES',
      'MERIDIAN_AGENT_LISTEN_PORT',
      'MERIDIAN_AGENT_EXECUTION_PROVIDERS',
      'MERIDIAN_AGENT_INTRA_OP_THREADS',
      'MERIDIAN_AGENT_BOOTSTRAP_TOKEN',
      'MERIDIAN_AGENT_ON_STOP',
    ]) {
      expect(message).toContain(name);
    }
    expect(message).toMatch(/^Invalid agent configuration:\n/);
  });

  it('refuses providers listed after cpu, since onnxruntime would never reach them', () => {
    expect(() => loadAgentConfig({ MERIDIAN_AGENT_EXECUTION_PROVIDERS: 'cpu,cuda' })).toThrow(
      /MERIDIAN_AGENT_EXECUTION_PROVIDERS: 'cpu' must come last/,
    );
  });

  it('refuses a provider named twice and an empty provider list', () => {
    expect(() => loadAgentConfig({ MERIDIAN_AGENT_EXECUTION_PROVIDERS: 'cuda,cuda,cpu' })).toThrow(/twice/);
    expect(() => loadAgentConfig({ MERIDIAN_AGENT_EXECUTION_PROVIDERS: ' , ' })).toThrow(
      /MERIDIAN_AGENT_EXECUTION_PROVIDERS: name at least one/,
    );
  });

  it('refuses to listen on the control plane address', () => {
    expect(() =>
      loadAgentConfig({
        MERIDIAN_AGENT_CONTROL_PLANE_URL: 'http://localhost:9090',
        MERIDIAN_AGENT_LISTEN_PORT: '9090',
      }),
    ).toThrow(/MERIDIAN_AGENT_LISTEN_PORT: is the control plane's own address/);
  });

  it('reaches a Docker engine on a unix socket or TCP port, and runs none when unset', () => {
    expect(loadAgentConfig({ MERIDIAN_AGENT_DOCKER_HOST: 'unix:///run/docker.sock' }).docker).toEqual({
      socketPath: '/run/docker.sock',
    });
    expect(loadAgentConfig({ MERIDIAN_AGENT_DOCKER_HOST: 'tcp://10.0.0.5:2375' }).docker).toEqual({
      protocol: 'http',
      host: '10.0.0.5',
      port: 2375,
    });
    expect(loadAgentConfig({ MERIDIAN_AGENT_DOCKER_HOST: '' }).docker).toBeUndefined();
  });

  it('refuses a Docker host it cannot reach', () => {
    for (const bad of ['/run/docker.sock', 'unix://', 'tcp://host', 'https://host:2376']) {
      expect(() => loadAgentConfig({ MERIDIAN_AGENT_DOCKER_HOST: bad })).toThrow(
        /MERIDIAN_AGENT_DOCKER_HOST/,
      );
    }
  });
});

describe('MERIDIAN_AGENT_METRICS_LISTEN', () => {
  it('opens a metrics listener at host:port, an IPv6 host in brackets, and none when unset', () => {
    expect(loadAgentConfig({ MERIDIAN_AGENT_METRICS_LISTEN: '127.0.0.1:9091' }).metricsListen).toEqual({
      host: '127.0.0.1',
      port: 9091,
    });
    expect(loadAgentConfig({ MERIDIAN_AGENT_METRICS_LISTEN: '[::1]:9091' }).metricsListen).toEqual({
      host: '::1',
      port: 9091,
    });
    expect(loadAgentConfig({ MERIDIAN_AGENT_METRICS_LISTEN: '' }).metricsListen).toBeUndefined();
  });

  it('refuses an address that is not host:port, or is the data plane’s own', () => {
    for (const bad of ['9091', '127.0.0.1', '127.0.0.1:70000', 'http://127.0.0.1:9091', '::1:9091']) {
      expect(() => loadAgentConfig({ MERIDIAN_AGENT_METRICS_LISTEN: bad })).toThrow(
        /MERIDIAN_AGENT_METRICS_LISTEN: must be host:port/,
      );
    }
    expect(() => loadAgentConfig({ MERIDIAN_AGENT_METRICS_LISTEN: '127.0.0.1:9090' })).toThrow(
      /MERIDIAN_AGENT_METRICS_LISTEN: is the data plane's own address/,
    );
  });
});
