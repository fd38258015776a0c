#!/usr/bin/env node
// `npm start`: the whole platform on one machine with embedded defaults, no account anywhere. Each
// component is a child process; Ctrl-C (or SIGTERM) is passed on to all of them, and if one dies the
// others are stopped so nothing is left half-running.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

const env = { ...process.env, MERIDIAN_DATA_DIR: process.env.MERIDIAN_DATA_DIR ?? '.data' };
const tsx = (entry) => [process.execPath, ['--import', 'tsx', entry]];

/**
 * The components, started in order, each once the previous one is healthy. Later issues append the edge
 * (workerd, 8787) and a local agent (9090) with the same shape.
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
];

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
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
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
      const res = await fetch(urlOf(component) + component.health);
      if (res.ok) return true;
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

console.log(`Meridian: data in ${env.MERIDIAN_DATA_DIR}`);
for (const component of COMPONENTS) await assertPortFree(component);
for (const component of COMPONENTS) {
  const child = startComponent(component);
  if (!(await waitHealthy(component, child))) {
    if (!stopping)
      console.error(`${component.name} did not answer ${urlOf(component)}${component.health} in time`);
    stopAll(1);
    break;
  }
}
if (!stopping) {
  for (const c of COMPONENTS) {
    const url = urlOf(c);
    console.log(`${c.name} listening on ${url} (${[c.health, ...c.links].map((l) => url + l).join(', ')})`);
  }
  console.log('Ctrl-C stops everything.');
}
