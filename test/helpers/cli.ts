import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The `meridian` binary as the package ships it (cli/scripts/build.mjs: one bundle, the SDK inlined),
 * built once per test file beside the repository's node_modules; `run` spawns it as a user's shell does.
 */
export async function buildCli(env: () => Record<string, string>) {
  const bundle = `${REPO_ROOT}cli/dist/meridian-test-${process.pid}-${Date.now()}.mjs`;
  await promisify(execFile)(process.execPath, ['cli/scripts/build.mjs', bundle], { cwd: REPO_ROOT });
  const spawnCli = (args: string[], extraEnv: Record<string, string> = {}): ChildProcess =>
    spawn(process.execPath, [bundle, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env(), ...extraEnv },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  return {
    bundle,
    spawn: spawnCli,
    /** Runs `meridian args…` to its end, with `input` on stdin. */
    run(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
      const child = spawnCli(args, options.env);
      return collect(child, options.input);
    },
    remove: () => rm(bundle, { force: true }),
  };
}

/** Waits for a spawned process to exit, with everything it wrote. */
export function collect(child: ChildProcess, input?: string): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  child.stdin?.end(input ?? '');
  return new Promise((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}
