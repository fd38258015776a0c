#!/usr/bin/env node
// `npm test`'s test step: the end-to-end project beside every other project, in two vitest processes at once.
//
// Each vitest process runs its files one at a time on a 2-core machine (vitest's default is cores - 1), and
// the end-to-end files spend most of their time waiting on the platform they start (timers, child
// processes, a browser), so the unit projects (node, edge in workerd, the SDK in workerd) fit beside them.
// One process with two workers would instead run two end-to-end stacks at once. With arguments (a file, a
// filter, --project) it is plain `vitest run` with them.
import { spawn } from 'node:child_process';

const vitest = (args, label) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...args], {
      stdio: label ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: process.env,
    });
    if (label) {
      // Each line says which process wrote it, so the two runs can be read apart in one log.
      for (const stream of [child.stdout, child.stderr]) {
        let rest = '';
        stream.on('data', (chunk) => {
          const lines = (rest + chunk.toString('utf8')).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines)
            (stream === child.stdout ? process.stdout : process.stderr).write(`[${label}] ${line}\n`);
        });
        stream.on('end', () => {
          if (rest) process.stdout.write(`[${label}] ${rest}\n`);
        });
      }
    }
    child.on('exit', (code, signal) => resolve({ label, code: code ?? (signal ? 1 : 0) }));
  });

const args = process.argv.slice(2);
if (args.length > 0) {
  const { code } = await vitest(args);
  process.exit(code);
}

const runs = await Promise.all([
  vitest(['--project', 'e2e'], 'e2e'),
  // Every other project, so one added to vitest.config.ts is not left out.
  vitest(['--project', '!e2e'], 'unit'),
]);
for (const { label, code } of runs)
  console.info(`${label}: ${code === 0 ? 'passed' : `failed (exit ${code})`}`);
process.exit(runs.some((r) => r.code !== 0) ? 1 : 0);
