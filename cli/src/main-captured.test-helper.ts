import { vi } from 'vitest';
import { main } from './main.js';

/** Runs the CLI in this process with `args`, and returns its exit code and what it wrote to stderr. */
export async function runCapturingStderr(args: string[]): Promise<{ code: number; stderr: string }> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    return { code: await main(args), stderr: lines.join('') };
  } finally {
    spy.mockRestore();
  }
}
