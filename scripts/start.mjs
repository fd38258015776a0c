#!/usr/bin/env node
// `npm start`: the whole platform on one machine with embedded defaults, no account anywhere. Each
// component is a child process; Ctrl-C (or SIGTERM) is passed on to all of them, and if one dies the
// others are stopped so nothing is left half-running.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDashboardBuilt } from './build-dashboard.mjs';
import { prepareLayout } from './data-layout.mjs';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
// How long each component may take to answer its health check; the edge bundles itself first, which on a
// loaded machine (CI running tests side by side) can take minutes.
const READY_TIMEOUT_MS = Number(process.env.MERIDIAN_START_READY_SECONDS ?? 60) * 1000;
const STOP_TIMEOUT_MS = 10_000;

// MERIDIAN_DATA_DIR is the root of this local installation here, resolved once against the directory npm
// start runs in; each component gets its own absolute folder in it (docs/adr/0005-agent-directory-layout.md).
const layout = prepareLayout(process.env.MERIDIAN_DATA_DIR ?? '.data', process.env);
const env = { ...process.env, MERIDIAN_DATA_DIR: layout.controlPlane };
const tsx = (entry) => [process.execPath, ['--import', 'tsx', entry]];
const controlPlaneUrl = `http://${env.MERIDIAN_HOST ?? '127.0.0.1'}:${env.MERIDIAN_PORT ?? 8080}`;
const agentDataDir = layout.agent;
// start.mjs hands the local agent its one-time bootstrap token through this file (0600), removed once used.
const agentTokenFile = join(agentDataDir, 'bootstrap-token');

/**
 * The components, started in order, each once the previous one is healthy. `prepare` runs just before a
 * component starts; `ready` replaces the plain health check where one is not enough.
 */
const COMPONENTS = [
  {
    name: 'control plane',
    command: tsx('control-plane/src/main.ts'),
    host: env.MERIDIAN_HOST ?? '127.0.0.1',
    port: Number(env.MERIDIAN_PORT ?? 8080),
    portVariable: 'MERIDIAN_PORT',
    health: '/health',
    links: ['/docs', '/openapi.json', '/metrics'],
  },
  {
    name: 'agent (CPU, onnx runtime)',
    command: tsx('gpu-agent/src/main.ts'),
    host: env.MERIDIAN_AGENT_LISTEN_HOST ?? '127.0.0.1',
    port: Number(env.MERIDIAN_AGENT_LISTEN_PORT ?? 9090),
    portVariable: 'MERIDIAN_AGENT_LISTEN_PORT',
    env: {
      MERIDIAN_AGENT_CONTROL_PLANE_URL: controlPlaneUrl,
      MERIDIAN_AGENT_DATA_DIR: agentDataDir,
      MERIDIAN_AGENT_WORKLOADS_DIR: layout.workloads,
      MERIDIAN_AGENT_BOOTSTRAP_TOKEN_FILE: agentTokenFile,
      // Prometheus scrapes here without the edge's signature; the data plane's own /metrics stays signed.
      MERIDIAN_AGENT_METRICS_LISTEN: env.MERIDIAN_AGENT_METRICS_LISTEN ?? '127.0.0.1:9091',
      // Ctrl-C stops every notebook and model server too: nothing this command started outlives it.
      MERIDIAN_AGENT_ON_STOP: env.MERIDIAN_AGENT_ON_STOP ?? 'stop-workloads',
    },
    prepare: issueAgentTokenIfNeeded,
    // Every data-plane route wants the edge's signature, so "up" is: registered, and answering HTTP.
    ready: async (url) =>
      existsSync(join(agentDataDir, 'credential.json')) &&
      (await fetch(`${url}/v2/health/live`)).status === 401,
    health: '/v2/health/live',
    links: [],
    note: 'every route needs the edge signature; unsigned metrics on http://127.0.0.1:9091/metrics',
  },
  {
    name: 'edge (workerd)',
    command: [process.execPath, ['scripts/edge.mjs']],
    host: env.MERIDIAN_EDGE_HOST ?? '127.0.0.1',
    port: Number(env.MERIDIAN_EDGE_PORT ?? 8787),
    portVariable: 'MERIDIAN_EDGE_PORT',
    env: { MERIDIAN_EDGE_CONTROL_PLANE_URL: controlPlaneUrl, MERIDIAN_EDGE_STATE_DIR: layout.edge },
    health: '/health',
    links: ['/v2/health/ready'],
    note: 'predictions: /v2/models/<deployment name>/infer with an API key',
  },
];

/** A bootstrap token for the local agent, unless it has registered before (its credential is on disk). */
async function issueAgentTokenIfNeeded() {
  if (existsSync(join(agentDataDir, 'credential.json'))) return;
  const operatorToken =
    env.MERIDIAN_OPERATOR_TOKEN ?? readFileSync(join(env.MERIDIAN_DATA_DIR, 'operator-token'), 'utf8').trim();
  const res = await fetch(`${controlPlaneUrl}/internal/v1/agents/bootstrap-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ttlSeconds: 600 }),
  });
  if (res.status !== 201) throw new Error(`issuing a bootstrap token for the agent answered ${res.status}`);
  const { token } = await res.json();
  mkdirSync(agentDataDir, { recursive: true, mode: 0o700 });
  writeFileSync(agentTokenFile, token, { mode: 0o600 });
}

const children = [];
let stopping = false;
const urlOf = (component) => `http://${component.host}:${component.port}`;

/** Fails early on a taken port: otherwise the health check could be answered by whatever holds it. */
function assertPortFree(component) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error) => {
      console.error(
        `${component.name}: cannot listen on ${component.host}:${component.port} (${error.code}); ` +
          `stop what holds it or set ${component.portVariable}`,
      );
      process.exit(1);
    });
    probe.listen({ host: component.host, port: component.port, exclusive: true }, () => probe.close(resolve));
  });
}

function startComponent(component) {
  const [command, args] = component.command;
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...env, ...component.env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${component.name} exited (${signal ?? `code ${code}`}); stopping the rest`);
    stopAll(code || 1);
  });
  children.push(child);
  return child;
}

async function waitHealthy(component, child) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping && child.exitCode === null) {
    try {
      if (component.ready) {
        if (await component.ready(urlOf(component))) return true;
      } else if ((await fetch(urlOf(component) + component.health)).ok) return true;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

const running = () => children.filter((c) => c.exitCode === null && c.signalCode === null);

function stopAll(exitCode, signal = 'SIGTERM') {
  if (stopping) return;
  stopping = true;
  const left = running();
  if (left.length === 0) process.exit(exitCode);
  let remaining = left.length;
  for (const child of left) {
    child.once('exit', () => {
      remaining -= 1;
      if (remaining === 0) process.exit(exitCode);
    });
    child.kill(signal);
  }
  setTimeout(() => process.exit(exitCode || 1), STOP_TIMEOUT_MS).unref();
}

process.on('SIGINT', () => stopAll(0, 'SIGINT'));
process.on('SIGTERM', () => stopAll(0, 'SIGTERM'));
// Whatever way this process ends, no component outlives it.
process.on('exit', () => {
  for (const child of running()) child.kill('SIGKILL');
});

console.log(
  `Meridian: data in ${layout.root} (control plane: ${layout.controlPlane}, agent: ${layout.agent}, ` +
    `workload volumes: ${layout.workloads})`,
);
if (layout.moved.length > 0) {
  console.log(
    `Moved the control plane's files of the old layout into ${layout.controlPlane}: ${layout.moved.join(', ')}`,
  );
}
for (const component of COMPONENTS) await assertPortFree(component);
// The control plane serves the dashboard's build at /: make it when it is missing or older than its sources.
try {
  ensureDashboardBuilt();
} catch (error) {
  console.error(`The dashboard did not build (${error.message}); the API still starts, / answers 503`);
}
for (const component of COMPONENTS) {
  if (stopping) break;
  try {
    await component.prepare?.();
  } catch (error) {
    console.error(`${component.name}: ${error.message}`);
    stopAll(1);
    break;
  }
  const child = startComponent(component);
  const healthy = await waitHealthy(component, child);
  rmSync(agentTokenFile, { force: true });
  if (!healthy) {
    if (!stopping)
      console.error(`${component.name} did not answer ${urlOf(component)}${component.health} in time`);
    stopAll(1);
    break;
  }
}
if (!stopping) {
  for (const c of COMPONENTS) {
    const url = urlOf(c);
    const links = [c.health, ...c.links].map((l) => url + l).join(', ');
    console.log(`${c.name} listening on ${url} (${links}${c.note ? `; ${c.note}` : ''})`);
  }
  console.log(`Dashboard: ${urlOf(COMPONENTS[0])}/ (sign up there, or log in with the CLI's account)`);
  console.log('Ctrl-C stops everything.');
}
