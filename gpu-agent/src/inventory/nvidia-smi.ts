import { type GpuType, gpuTypeOf } from './gpu-type.js';

/** The columns the agent asks nvidia-smi for, in order. */
export const NVIDIA_SMI_FIELDS = [
  'index',
  'uuid',
  'name',
  'memory.total',
  'memory.used',
  'memory.free',
  'utilization.gpu',
  'temperature.gpu',
  'power.draw',
] as const;

/** The exact argument list: CSV without header or units, so MiB, %, °C and W are bare numbers. */
export const NVIDIA_SMI_ARGS = [
  `--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`,
  '--format=csv,noheader,nounits',
] as const;

/** One GPU as nvidia-smi reports it. Readings the driver cannot give (`[N/A]`, `[Not Supported]`) are null. */
export interface GpuInfo {
  index: number;
  uuid: string;
  name: string;
  type: GpuType;
  memoryTotalMiB: number;
  memoryUsedMiB: number;
  memoryFreeMiB: number;
  utilizationPct: number | null;
  temperatureC: number | null;
  powerDrawW: number | null;
}

/** A line that was not a usable GPU row, kept so the agent can report why a GPU is missing. */
export interface SkippedLine {
  lineNumber: number;
  line: string;
  reason: string;
}

export interface ParsedGpuList {
  gpus: GpuInfo[];
  skipped: SkippedLine[];
}

const NUMBER = /^-?\d+(\.\d+)?$/;
// nvidia-smi prints a bracketed placeholder where it has no value: [N/A], [Not Supported], [Unknown Error],
// [Insufficient Permissions], [GPU is lost], [Requested functionality has been deprecated].
const PLACEHOLDER = /^\[[^\]]*\]$/;

type Cell = { ok: true; value: number | null } | { ok: false; reason: string };

function readNumber(field: string, raw: string, required: boolean): Cell {
  if (NUMBER.test(raw)) return { ok: true, value: Number(raw) };
  if (PLACEHOLDER.test(raw) && !required) return { ok: true, value: null };
  return { ok: false, reason: `${field} is ${JSON.stringify(raw)}, not a number` };
}

function parseLine(line: string): { gpu: GpuInfo } | { reason: string } {
  const cells = line.split(',').map((c) => c.trim());
  if (cells.length !== NVIDIA_SMI_FIELDS.length) {
    return { reason: `expected ${NVIDIA_SMI_FIELDS.length} columns, got ${cells.length}` };
  }
  const [index, uuid, name, ...numeric] = cells as [string, string, string, ...string[]];
  if (!/^\d+$/.test(index)) return { reason: `index is ${JSON.stringify(index)}, not a whole number` };
  if (uuid === '' || PLACEHOLDER.test(uuid)) return { reason: `uuid is ${JSON.stringify(uuid)}` };
  if (name === '' || PLACEHOLDER.test(name)) return { reason: `name is ${JSON.stringify(name)}` };
  const values: (number | null)[] = [];
  for (const [i, raw] of numeric.entries()) {
    const field = NVIDIA_SMI_FIELDS[i + 3] ?? 'value';
    // Placement needs the GPU's memory figures; the other readings may be missing.
    const cell = readNumber(field, raw, field.startsWith('memory.'));
    if (!cell.ok) return { reason: cell.reason };
    values.push(cell.value);
  }
  const [memoryTotalMiB, memoryUsedMiB, memoryFreeMiB, utilizationPct, temperatureC, powerDrawW] = values;
  if (memoryTotalMiB == null || memoryUsedMiB == null || memoryFreeMiB == null) {
    return { reason: 'a memory reading is missing' };
  }
  return {
    gpu: {
      index: Number(index),
      uuid,
      name,
      type: gpuTypeOf(name),
      memoryTotalMiB,
      memoryUsedMiB,
      memoryFreeMiB,
      utilizationPct: utilizationPct ?? null,
      temperatureC: temperatureC ?? null,
      powerDrawW: powerDrawW ?? null,
    },
  };
}

/**
 * Parses `nvidia-smi --query-gpu=… --format=csv,noheader,nounits` output. A malformed line is skipped with
 * its reason rather than failing the whole list: one odd GPU must not hide seven good ones from the
 * scheduler, and the reasons travel with the inventory so an operator sees them. Empty output is no GPUs.
 */
export function parseNvidiaSmiOutput(output: string): ParsedGpuList {
  const gpus: GpuInfo[] = [];
  const skipped: SkippedLine[] = [];
  for (const [i, rawLine] of output.split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (line === '') continue;
    const parsed = parseLine(line);
    if ('gpu' in parsed) gpus.push(parsed.gpu);
    else skipped.push({ lineNumber: i + 1, line, reason: parsed.reason });
  }
  return { gpus, skipped };
}
