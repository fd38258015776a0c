#!/usr/bin/env node
// Builds the web dashboard (dashboard/dist, served by the control plane at /) when it is missing or older
// than its sources or the SDK's. `npm start` and the dashboard's browser tests call ensureDashboardBuilt();
// run directly, it does the same (`--force` rebuilds anyway).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const DASHBOARD = join(REPO_ROOT, 'dashboard');
const BUILT = join(DASHBOARD, 'dist', 'index.html');
const SOURCES = [
  join(DASHBOARD, 'index.html'),
  join(DASHBOARD, 'vite.config.ts'),
  join(DASHBOARD, 'package.json'),
  join(DASHBOARD, 'public'),
  join(DASHBOARD, 'src'),
  join(REPO_ROOT, 'sdk', 'src'),
];

/** The newest modification time under `path` (a file or a folder), 0 when it does not exist. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

/** Whether dashboard/dist is missing or older than a source file. */
export function dashboardIsStale() {
  if (!existsSync(BUILT)) return true;
  const built = statSync(BUILT).mtimeMs;
  return SOURCES.some((source) => newest(source) > built);
}

/** Builds dashboard/dist with Vite unless it is up to date; returns whether it built. */
export function ensureDashboardBuilt({ force = false, log = console.log } = {}) {
  if (!force && !dashboardIsStale()) return false;
  log('Building the dashboard (dashboard/dist)…');
  const vite = join(REPO_ROOT, 'dashboard', 'node_modules', 'vite', 'bin', 'vite.js');
  const bin = existsSync(vite) ? vite : join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  // Built beside dist and moved into place, so two builds at once (npm start and a test) never serve or
  // leave a half-written folder. NODE_ENV decides React's build: a test runner's NODE_ENV=test would make a
  // development build.
  const staging = join(DASHBOARD, `.build-${process.pid}`);
  try {
    execFileSync(
      process.execPath,
      [bin, 'build', '--logLevel', 'warn', '--outDir', staging, '--emptyOutDir'],
      {
        cwd: DASHBOARD,
        stdio: 'inherit',
        env: { ...process.env, NODE_ENV: 'production' },
      },
    );
    rmSync(join(DASHBOARD, 'dist'), { recursive: true, force: true });
    try {
      renameSync(staging, join(DASHBOARD, 'dist'));
    } catch (error) {
      // Another build moved its (equal) result in first.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const built = ensureDashboardBuilt({ force: process.argv.includes('--force') });
  if (!built) console.log('The dashboard is up to date (dashboard/dist).');
}
