import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuTypeOf } from './gpu-type.js';
import { NVIDIA_SMI_ARGS, parseNvidiaSmiOutput } from './nvidia-smi.js';

// Recorded nvidia-smi answers; no NVIDIA driver runs on this machine.
const sample = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('parseNvidiaSmiOutput', () => {
  it('reads a single Tesla T4', () => {
    expect(parseNvidiaSmiOutput(sample('t4-x1.csv'))).toEqual({
      gpus: [
        {
          index: 0,
          uuid: 'GPU-4a9d1f2e-7c3b-5e81-92a0-6f1d3c8b27e4',
          name: 'Tesla T4',
          type: 't4',
          memoryTotalMiB: 15360,
          memoryUsedMiB: 0,
          memoryFreeMiB: 14930,
          utilizationPct: 0,
          temperatureC: 31,
          powerDrawW: 9.61,
        },
      ],
      skipped: [],
    });
  });

  it('reads eight A100-SXM4-80GB, with an unreadable power draw as null', () => {
    const { gpus, skipped } = parseNvidiaSmiOutput(sample('a100-sxm4-80gb-x8.csv'));
    expect(skipped).toEqual([]);
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(8);
    expect(gpus.every((g) => g.name === 'NVIDIA A100-SXM4-80GB' && g.type === 'other')).toBe(true);
    expect(gpus.every((g) => g.memoryTotalMiB === 81920)).toBe(true);
    expect(gpus[0]).toMatchObject({ memoryUsedMiB: 72811, memoryFreeMiB: 8226, utilizationPct: 97 });
    expect(gpus[6]?.powerDrawW).toBeNull();
  });

  it('tolerates padding around cells and [Not Supported] readings', () => {
    const { gpus, skipped } = parseNvidiaSmiOutput(sample('rtx4090-and-v100.csv'));
    expect(skipped).toEqual([]);
    expect(gpus.map((g) => [g.name, g.type])).toEqual([
      ['NVIDIA GeForce RTX 4090', 'rtx4090'],
      ['Tesla V100-SXM2-16GB', 'v100'],
    ]);
    expect(gpus[0]).toMatchObject({ memoryTotalMiB: 24564, memoryUsedMiB: 1893, powerDrawW: 118.45 });
    expect(gpus[1]).toMatchObject({ utilizationPct: null, temperatureC: 36 });
  });

  it('skips a line with the wrong column count and keeps the good ones', () => {
    const { gpus, skipped } = parseNvidiaSmiOutput(sample('wrong-column-count.csv'));
    expect(gpus.map((g) => g.index)).toEqual([0]);
    expect(skipped).toEqual([
      { lineNumber: 2, line: expect.stringContaining('GPU-7d2c0b9e'), reason: 'expected 9 columns, got 8' },
    ]);
  });

  it('skips a GPU whose memory size is not a number, since placement cannot use it', () => {
    const { gpus, skipped } = parseNvidiaSmiOutput(sample('non-numeric-memory.csv'));
    expect(gpus.map((g) => g.index)).toEqual([2]);
    expect(skipped.map((s) => [s.lineNumber, s.reason])).toEqual([
      [1, 'memory.total is "15360 MiB", not a number'],
      [2, 'memory.total is "[N/A]", not a number'],
    ]);
  });

  it('reads empty output as no GPUs', () => {
    expect(parseNvidiaSmiOutput(sample('empty.csv'))).toEqual({ gpus: [], skipped: [] });
    expect(parseNvidiaSmiOutput('\n  \n')).toEqual({ gpus: [], skipped: [] });
  });

  it('reports a driver failure message as a skipped line, not as a GPU', () => {
    const { gpus, skipped } = parseNvidiaSmiOutput(sample('driver-failed.txt'));
    expect(gpus).toEqual([]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.line).toMatch(/^NVIDIA-SMI has failed because it couldn't communicate/);
    expect(skipped[0]?.reason).toBe('expected 9 columns, got 1');
  });

  it('skips a GPU whose free memory is unknown, and keeps one whose only gap is a sensor', () => {
    const { gpus, skipped } = parseNvidiaSmiOutput(
      '0, GPU-a, Tesla T4, 15360, [N/A], [N/A], 0, 31, 9.61\n1, GPU-b, Tesla T4, 15360, 0, 14930, [N/A], [N/A], [N/A]\n',
    );
    expect(skipped.map((s) => s.reason)).toEqual(['memory.used is "[N/A]", not a number']);
    expect(gpus).toMatchObject([
      { uuid: 'GPU-b', utilizationPct: null, temperatureC: null, powerDrawW: null },
    ]);
  });

  it('rejects a non-numeric index and a placeholder uuid', () => {
    const { skipped } = parseNvidiaSmiOutput(
      'x, GPU-1, Tesla T4, 15360, 0, 14930, 0, 31, 9.61\n0, [N/A], Tesla T4, 15360, 0, 14930, 0, 31, 9.61\r\n',
    );
    expect(skipped.map((s) => s.reason)).toEqual(['index is "x", not a whole number', 'uuid is "[N/A]"']);
  });

  it('asks for CSV without header or units', () => {
    expect(NVIDIA_SMI_ARGS).toEqual([
      '--query-gpu=index,uuid,name,memory.total,memory.used,memory.free,utilization.gpu,temperature.gpu,power.draw',
      '--format=csv,noheader,nounits',
    ]);
  });
});

describe('gpuTypeOf', () => {
  it.each([
    ['Tesla T4', 't4'],
    ['NVIDIA T4G', 't4'],
    ['Tesla V100-SXM2-16GB', 'v100'],
    ['Tesla V100-PCIE-32GB', 'v100'],
    ['Tesla V100S-PCIE-32GB', 'v100'],
    ['NVIDIA GeForce RTX 4090', 'rtx4090'],
    ['NVIDIA GeForce RTX 4090 D', 'other'],
    ['NVIDIA GeForce RTX 4080', 'other'],
    ['NVIDIA A100-SXM4-80GB', 'other'],
    ['NVIDIA H100 80GB HBM3', 'other'],
    ['NVIDIA L4', 'other'],
  ] as const)('maps %s to %s', (name, type) => {
    expect(gpuTypeOf(name)).toBe(type);
  });
});
