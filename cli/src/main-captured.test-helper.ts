import { vi } from 'vitest';
import { main } from './main.js';

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in this process with `args` and returns its exit code and what it printed, with `env` set
 * over the process's environment for the run only.
 */
export async function runCaptured(args: string[], env: Record<string, string> = {}): Promise<Captured> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  try {
    return { code: await main(args), stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    process.env = saved;
  }
}

/** Runs the CLI in this process with `args`, and returns its exit code and what it wrote to stderr. */
export async function runCapturingStderr(args: string[]): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await runCaptured(args);
  return { code, stderr };
}
