#!/usr/bin/env node
// `npm test`'s test step: the end-to-end project beside every other project, in two vitest processes at once.
//
// Each vitest process runs its files one at a time on a 2-core machine (vitest's default is cores - 1), and
// the end-to-end files spend most of their time waiting on the platform they start (timers, child
// processes, a browser), so the unit projects (node, edge in workerd, the SDK in workerd) fit beside them.
// One process with two workers would instead run two end-to-end stacks at once. With arguments (a file, a
// filter, --project) it is plain `vitest run` with them.
import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';

// vitest's account of what failed: from its "Failed Tests"/"Failed Suites" heading to the end of its run.
// The unit run ends long before the end-to-end one, so its account would sit far above the end of the log
// (CI keeps only the end); it is printed again once both are done.
const FAILURE_HEADING = /(Failed (Tests|Suites) \d+)|^\s*(Test Files|Tests)\s+\d/;
const MAX_REPEATED_LINES = 60;

const vitest = (args, label) =>
  new Promise((resolve) => {
    const failureAccount = [];
    let inFailureAccount = false;
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
          for (const line of lines) {
            (stream === child.stdout ? process.stdout : process.stderr).write(`[${label}] ${line}\n`);
            const plain = stripVTControlCharacters(line);
            if (FAILURE_HEADING.test(plain)) inFailureAccount = true;
            if (inFailureAccount) failureAccount.push(plain);
          }
        });
        stream.on('end', () => {
          if (rest) process.stdout.write(`[${label}] ${rest}\n`);
        });
      }
    }
    child.on('exit', (code, signal) => resolve({ label, code: code ?? (signal ? 1 : 0), failureAccount }));
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
for (const { label, code, failureAccount } of runs) {
  if (code === 0) continue;
  const shown = failureAccount.slice(0, MAX_REPEATED_LINES);
  console.info(`\n── what the ${label} run said about its failures (repeated from above) ──`);
  // Every failed test's name first, so a long first stack trace cannot push the others out of the end.
  for (const line of failureAccount.filter((l) => /^\s*FAIL\s/.test(l))) console.info(`[${label}] ${line}`);
  for (const line of shown) console.info(`[${label}] ${line}`);
  if (failureAccount.length > shown.length)
    console.info(`[${label}] … ${failureAccount.length - shown.length} more lines above`);
}
for (const { label, code } of runs)
  console.info(`${label}: ${code === 0 ? 'passed' : `failed (exit ${code})`}`);
process.exit(runs.some((r) => r.code !== 0) ? 1 : 0);
