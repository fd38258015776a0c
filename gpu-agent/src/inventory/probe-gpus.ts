import { execFile } from 'node:child_process';
import { type GpuInfo, NVIDIA_SMI_ARGS, parseNvidiaSmiOutput, type SkippedLine } from './nvidia-smi.js';

/**
 * What the GPU probe found. `unavailable` is the normal answer on a CPU-only host (no nvidia-smi) and on a
 * host whose driver is broken; either way the agent reports no GPUs and keeps serving on the CPU.
 */
export type GpuProbe =
  | { status: 'ok'; gpus: GpuInfo[]; skipped: SkippedLine[] }
  | { status: 'unavailable'; gpus: []; reason: string };

export interface ProbeGpusOptions {
  /** nvidia-smi binary: a name looked up on PATH or a path. */
  nvidiaSmiPath: string;
  timeoutMs?: number;
}

interface ExecOutcome {
  error: (Error & { code?: unknown; killed?: boolean; signal?: unknown }) | null;
  stdout: string;
  stderr: string;
}

function run(path: string, timeoutMs: number): Promise<ExecOutcome> {
  return new Promise((resolve) => {
    execFile(
      path,
      [...NVIDIA_SMI_ARGS],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => resolve({ error, stdout, stderr }),
    );
  });
}

function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

function describeFailure(path: string, outcome: ExecOutcome, timeoutMs: number): string {
  const { error } = outcome;
  if (error === null) return 'no error';
  if (error.code === 'ENOENT') return `${path} not found (no NVIDIA driver installed?)`;
  if (error.code === 'EACCES') return `${path} is not executable`;
  if (error.killed) return `${path} did not answer within ${timeoutMs} ms`;
  // nvidia-smi prints its own failures ("NVIDIA-SMI has failed because…", "No devices were found") on stdout.
  const said = firstLine(outcome.stderr) || firstLine(outcome.stdout);
  const exit =
    typeof error.code === 'number' ? `exited with ${error.code}` : String(error.code ?? error.signal);
  return said ? `${path} ${exit}: ${said}` : `${path} ${exit}`;
}

/** Runs nvidia-smi once and parses its answer; never throws. */
export async function probeGpus(options: ProbeGpusOptions): Promise<GpuProbe> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const outcome = await run(options.nvidiaSmiPath, timeoutMs);
  if (outcome.error !== null) {
    return {
      status: 'unavailable',
      gpus: [],
      reason: describeFailure(options.nvidiaSmiPath, outcome, timeoutMs),
    };
  }
  const { gpus, skipped } = parseNvidiaSmiOutput(outcome.stdout);
  if (gpus.length === 0 && skipped.length > 0) {
    // Exit 0 yet nothing parsable: not a GPU list at all, so say what was printed instead.
    return { status: 'unavailable', gpus: [], reason: `unreadable output: ${skipped[0]?.line ?? ''}` };
  }
  return { status: 'ok', gpus, skipped };
}
