import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { metricCell, metricColumns, runName, runTitle } from './run-columns';

type RunSummary = Schema<'RunSummary'>;

const run = (metrics: Record<string, number>): RunSummary => ({
  id: 'run_1',
  experimentId: 'exp_1',
  name: 'r',
  status: 'finished',
  startedAt: '2026-05-01T10:00:00.000Z',
  endedAt: null,
  createdAt: '2026-05-01T10:00:00.000Z',
  params: {},
  tags: {},
  metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 0, timestamp: '' })),
});

describe('the runs table’s metric columns', () => {
  it('puts the keys most runs share first, then by name, up to the limit', () => {
    const runs = [
      run({ loss: 0.3, acc: 0.9, zeta: 1 }),
      run({ loss: 0.2, acc: 0.8 }),
      run({ loss: 0.1, beta: 2 }),
    ];
    expect(metricColumns(runs)).toEqual(['loss', 'acc', 'beta', 'zeta']);
    expect(metricColumns(runs, 2)).toEqual(['loss', 'acc']);
    expect(metricColumns([])).toEqual([]);
  });

  it('shows a run’s value to 4 significant digits, and nothing for a key it never logged', () => {
    const r = run({ loss: 0.30000000000000004, tokens: 1234567 });
    expect(metricCell(r, 'loss')).toBe('0.3');
    expect(metricCell(r, 'tokens')).toBe('1234567');
    expect(metricCell(r, 'acc')).toBe('');
  });

  it('names a run without a name by when it started, to the second, never by its id', () => {
    // The API names a run created without a name `run-` and the last 8 characters of its id.
    const unnamed = { ...run({}), id: 'run_01m98v5ygy2pbn8z9as05end6e', name: 'run-s05end6e' };
    expect(runName(unnamed)).toMatch(/^Run of .*2026.*\d:00:00/);
    expect(runName({ ...unnamed, startedAt: '2026-05-01T10:00:01.000Z' })).not.toBe(runName(unnamed));
    expect(runTitle(unnamed)).toBe(runName(unnamed));
    expect(runName({ ...unnamed, name: '  ' })).toBe(runName(unnamed));
    // A name its user gave stays, even one that looks like another run's default.
    expect(runName({ ...unnamed, name: 'run-12345678' })).toBe('run-12345678');
  });

  it('names a named run by its name, and titles its page with it', () => {
    expect(runName(run({}))).toBe('r');
    expect(runTitle({ ...run({}), name: 'baseline' })).toBe('Run baseline');
  });
});
