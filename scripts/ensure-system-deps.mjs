#!/usr/bin/env node
// Installs the Debian packages the tests run against (real components, never mocks). Runs as `pretest`,
// so it must be idempotent and cost nothing when everything is already there: a check is one stat().
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * What the tests need from the system: a file whose presence proves the package is installed, and the
 * Debian package that provides it. Later components add a line here (e.g. swift, docker.io).
 */
const REQUIREMENTS = [
  { file: '/usr/bin/chromium', aptPackage: 'chromium', neededBy: 'the /docs browser test' },
  {
    file: '/usr/bin/swift-ring-builder',
    aptPackage: 'swift',
    neededBy: 'the S3 tests (scripts/s3-server.sh)',
  },
  { file: '/usr/bin/swift-proxy-server', aptPackage: 'swift-proxy', neededBy: 'the S3 tests' },
  { file: '/usr/bin/swift-account-server', aptPackage: 'swift-account', neededBy: 'the S3 tests' },
  { file: '/usr/bin/swift-container-server', aptPackage: 'swift-container', neededBy: 'the S3 tests' },
  { file: '/usr/bin/swift-object-server', aptPackage: 'swift-object', neededBy: 'the S3 tests' },
  { file: '/usr/bin/memcached', aptPackage: 'memcached', neededBy: 'the S3 tests (Swift’s cache)' },
  {
    file: '/usr/sbin/dockerd',
    aptPackage: 'docker.io',
    neededBy: 'the gpu-agent docker runtime tests (scripts/dockerd.sh)',
  },
  {
    // busybox (dynamic) also installs /bin/busybox, but test images need the static one: this file is not.
    file: '/usr/share/lintian/overrides/busybox-static',
    aptPackage: 'busybox-static',
    neededBy: 'the test images (scripts/build-test-images.sh)',
  },
  {
    file: '/usr/bin/jupyter-server',
    aptPackage: 'jupyter-server',
    neededBy: 'the gpu-agent process runtime tests',
  },
  {
    // The notebook UI a person opens (Debian's classic notebook 6.4; Debian has no JupyterLab).
    file: '/usr/bin/jupyter-notebook',
    aptPackage: 'jupyter-notebook',
    neededBy: 'the process runtime notebook UI and its browser test',
  },
  {
    // The Python kernel a notebook runs code in (jupyter-server alone only serves files and the API).
    file: '/usr/share/jupyter/kernels/python3/kernel.json',
    aptPackage: 'python3-ipykernel',
    neededBy: 'the edge notebook proxy test (a kernel runs 1+1)',
  },
  { file: '/usr/bin/prometheus', aptPackage: 'prometheus', neededBy: 'the metrics scrape test' },
  {
    file: '/usr/sbin/nginx',
    aptPackage: 'nginx',
    neededBy: 'the edge benchmark (bench/edge.ts: reference proxy)',
  },
];

const missing = REQUIREMENTS.filter((r) => !existsSync(r.file));
if (missing.length === 0) process.exit(0);

const list = missing.map((r) => `  ${r.aptPackage} (${r.file}, for ${r.neededBy})`).join('\n');
if (process.getuid?.() !== 0) {
  console.error(
    `Missing system packages:\n${list}\n` +
      `Install them as root: apt-get update && apt-get install -y ${missing.map((r) => r.aptPackage).join(' ')}`,
  );
  process.exit(1);
}

console.log(`Installing system packages:\n${list}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
run('apt-get', ['update']);
run('apt-get', ['install', '-y', ...missing.map((r) => r.aptPackage)]);

const stillMissing = missing.filter((r) => !existsSync(r.file));
if (stillMissing.length > 0) {
  console.error(
    `apt-get finished but these are still missing: ${stillMissing.map((r) => r.file).join(', ')}`,
  );
  process.exit(1);
}

function run(command, args) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (result.status !== 0) {
    console.error(
      `${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`,
    );
    process.exit(1);
  }
}
