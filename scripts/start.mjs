#!/usr/bin/env node
// `npm start`: the whole platform on one machine with embedded defaults, no account anywhere. Each
// component is a child process in a process group of its own, so a terminal's Ctrl-C reaches this script
// alone: it stops them one at a time, in the reverse of their start order (the edge, then the agent, whose
// notebooks save their files to the control plane's storage, then the control plane), each given its time
// and said what is waited for. If one dies the others are stopped the same way, so nothing is left half-running.
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
// The agent's own bound on its shutdown (stopping notebooks, saving their files), and a little more.
const AGENT_STOP_TIMEOUT_MS = (Number(process.env.MERIDIAN_AGENT_STOP_TIMEOUT_SECONDS ?? 60) + 10) * 1000;
const STOP_PROGRESS_MS = 5_000;

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
    stopping: 'stopping notebooks and saving their files to the control plane',
    stopTimeoutMs: AGENT_STOP_TIMEOUT_MS,
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
    // Its own process group: a terminal's Ctrl-C goes to this script only, which stops each in turn.
    detached: true,
  });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${component.name} exited (${signal ?? `code ${code}`}); stopping the rest`);
    void stopAll(code || 1);
  });
  children.push({ component, child });
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

const alive = (child) => child.exitCode === null && child.signalCode === null;
const running = () => children.filter(({ child }) => alive(child));

/** Signals one component and waits for it to exit, saying every few seconds what it waits for; kills it at its timeout. */
async function stopComponent({ component, child }, signal) {
  if (!alive(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timeoutMs = component.stopTimeoutMs ?? STOP_TIMEOUT_MS;
  const started = Date.now();
  const what = component.stopping ? ` (${component.stopping})` : '';
  for (;;) {
    const left = timeoutMs - (Date.now() - started);
    if (left <= 0) break;
    const tick = new Promise((resolve) => setTimeout(resolve, Math.min(STOP_PROGRESS_MS, left)));
    if ((await Promise.race([exited.then(() => 'exited'), tick])) === 'exited') return;
    if (!alive(child)) return;
    const waited = Math.round((Date.now() - started) / 1000);
    if (Date.now() - started < timeoutMs)
      console.log(
        `waiting for the ${component.name} to stop${what}: ${waited} s of at most ${Math.round(timeoutMs / 1000)} s ` +
          '(Ctrl-C again stops everything at once)',
      );
  }
  console.error(
    `the ${component.name} did not stop within ${Math.round(timeoutMs / 1000)} s${what}; killing it`,
  );
  child.kill('SIGKILL');
  await exited;
}

/**
 * Stops every component, last started first: the edge takes no more calls, the agent stops its notebooks
 * and saves their files while the control plane (and its storage) still answers, then the control plane.
 */
async function stopAll(exitCode, signal = 'SIGTERM') {
  if (stopping) return;
  stopping = true;
  for (const entry of [...running()].reverse()) await stopComponent(entry, signal);
  process.exit(exitCode);
}

/** A second Ctrl-C while stopping: the user will not wait; files not yet saved stay on this host. */
function stopNow() {
  console.error('stopping everything at once: notebook files not yet saved stay on this host');
  for (const { child } of running()) child.kill('SIGKILL');
  process.exit(130);
}

process.on('SIGINT', () => (stopping ? stopNow() : void stopAll(0, 'SIGINT')));
process.on('SIGTERM', () => void stopAll(0, 'SIGTERM'));
// Whatever way this process ends, no component outlives it.
process.on('exit', () => {
  for (const { child } of running()) child.kill('SIGKILL');
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
