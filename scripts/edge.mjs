#!/usr/bin/env node
// Runs the edge Worker locally in workerd: bundles it as `wrangler deploy --dry-run` would, then serves the
// bundle with Miniflare on 127.0.0.1 with the bindings wrangler.toml declares (KV, the OrgLimiter Durable
// Object, vars). Miniflare rather than `wrangler dev`: its proxy hop costs ~2 ms instead of ~22 ms here.
//
// Environment: MERIDIAN_EDGE_HOST (127.0.0.1), MERIDIAN_EDGE_PORT (8787), MERIDIAN_EDGE_CONTROL_PLANE_URL
// (http://127.0.0.1:8080), MERIDIAN_DATA_DIR (.data: where the control plane wrote edge-service-token and
// data-plane-signing-key), MERIDIAN_EDGE_STATE_DIR (<data dir>/edge: KV and Durable Object storage, so
// buffered usage survives an edge restart), MERIDIAN_EDGE_VAR_<NAME> to override any [vars] entry, and
// MERIDIAN_EDGE_DASHBOARD_ORIGINS (the control plane's origin, where it serves the dashboard: the origins
// whose pages may call the edge, DASHBOARD_ORIGINS), MERIDIAN_EDGE_ISOLATES (1): with N > 1, N Worker services (N isolates) in the one workerd process, bound to
// one OrgLimiter namespace, the first on the port and the others on the ports after it, as several Cloudflare
// locations share an org's limiter.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log, LogLevel, Miniflare } from 'miniflare';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
const dataDir = env.MERIDIAN_DATA_DIR ?? '.data';
const stateDir = env.MERIDIAN_EDGE_STATE_DIR ?? join(dataDir, 'edge');
const buildDir = join(stateDir, 'build');
mkdirSync(buildDir, { recursive: true });

const secret = (variable, file) => env[variable] ?? readFileSync(join(dataDir, file), 'utf8').trim();

/** [vars] from wrangler.toml (flat `KEY = "value"` lines only, which is all it holds). */
function wranglerVars() {
  const toml = readFileSync(join(REPO_ROOT, 'wrangler.toml'), 'utf8');
  const section = /^\[vars\]\n([\s\S]*?)(?=^\[)/m.exec(toml)?.[1] ?? '';
  return Object.fromEntries([...section.matchAll(/^([A-Z_]+) = "([^"]*)"$/gm)].map((m) => [m[1], m[2]]));
}

/** The control plane's origin (it serves the dashboard), with its localhost / 127.0.0.1 twin. */
function dashboardOrigins(cpUrl) {
  const url = new URL(cpUrl);
  const twin = { '127.0.0.1': 'localhost', localhost: '127.0.0.1' }[url.hostname];
  const origins = [url.origin];
  if (twin) origins.push(`${url.protocol}//${twin}${url.port ? `:${url.port}` : ''}`);
  return origins.join(',');
}

execFileSync(
  process.execPath,
  [join(REPO_ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', buildDir],
  {
    cwd: REPO_ROOT,
    env: { ...env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);

const overrides = Object.fromEntries(
  Object.entries(env)
    .filter(([k]) => k.startsWith('MERIDIAN_EDGE_VAR_'))
    .map(([k, v]) => [k.slice('MERIDIAN_EDGE_VAR_'.length), v]),
);
const host = env.MERIDIAN_EDGE_HOST ?? '127.0.0.1';
const port = Number(env.MERIDIAN_EDGE_PORT ?? 8787);
const isolates = Number(env.MERIDIAN_EDGE_ISOLATES ?? 1);
if (!Number.isInteger(isolates) || isolates < 1 || isolates > 16)
  throw new Error(
    `MERIDIAN_EDGE_ISOLATES must be an integer from 1 to 16, got ${env.MERIDIAN_EDGE_ISOLATES}`,
  );
const controlPlaneUrl = env.MERIDIAN_EDGE_CONTROL_PLANE_URL ?? 'http://127.0.0.1:8080';
const bindings = {
  ...wranglerVars(),
  CONTROL_PLANE_URL: controlPlaneUrl,
  DASHBOARD_ORIGINS: env.MERIDIAN_EDGE_DASHBOARD_ORIGINS ?? dashboardOrigins(controlPlaneUrl),
  // One setting for both sides: the control plane builds notebooks' access URLs under the same domain.
  ...(env.MERIDIAN_NOTEBOOK_DOMAIN ? { NOTEBOOK_DOMAIN: env.MERIDIAN_NOTEBOOK_DOMAIN } : {}),
  EDGE_SERVICE_TOKEN: secret('MERIDIAN_EDGE_SERVICE_TOKEN', 'edge-service-token'),
  DATA_PLANE_SIGNING_KEY: secret('MERIDIAN_DATA_PLANE_SIGNING_KEY', 'data-plane-signing-key'),
  ...overrides,
};
/** Worker service `i`: the same bundle and bindings; every one uses the OrgLimiter class of the first. */
const worker = (i) => ({
  name: `edge-${i}`,
  modules: true,
  scriptPath: join(buildDir, 'index.js'),
  // Module names are paths relative to this root; the bundle is one file in it.
  modulesRoot: buildDir,
  compatibilityDate: '2026-04-01',
  compatibilityFlags: ['nodejs_compat'],
  kvNamespaces: { EDGE_KV: 'EDGE_KV' },
  durableObjects: {
    ORG_LIMITER: { className: 'OrgLimiter', useSQLite: true, ...(i === 0 ? {} : { scriptName: 'edge-0' }) },
  },
  bindings,
  ...(i === 0 ? {} : { unsafeDirectSockets: [{ host, port: port + i }] }),
});
const mf = new Miniflare({
  host,
  port,
  cf: false,
  log: new Log(LogLevel.WARN),
  kvPersist: join(stateDir, 'kv'),
  durableObjectsPersist: join(stateDir, 'do'),
  cachePersist: join(stateDir, 'cache'),
  workers: Array.from({ length: isolates }, (_, i) => worker(i)),
});
const url = await mf.ready;
const others = Array.from({ length: isolates - 1 }, (_, i) => `http://${host}:${port + i + 1}`);
console.log(
  JSON.stringify({
    level: 'info',
    msg: 'edge listening',
    url: url.origin,
    isolates: [url.origin, ...others],
  }),
);

const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
