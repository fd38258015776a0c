import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { formatValue, metricSummary, runText, shortTime } from './experiments.js';

const run = (over: Partial<Schema<'RunDetail'>>): Schema<'RunDetail'> => ({
  id: 'run_1',
  experimentId: 'exp_1',
  name: 'baseline',
  status: 'running',
  startedAt: '2024-05-01T10:00:00.000Z',
  endedAt: null,
  createdAt: '2024-05-01T10:00:00.000Z',
  params: {},
  tags: {},
  metrics: [],
  modelVersions: [],
  ...over,
});

describe('experiment and run formatting', () => {
  it('shows a metric value in four significant digits at most, integers as they are', () => {
    expect(formatValue(0.912345)).toBe('0.9123');
    expect(formatValue(0.31)).toBe('0.31');
    expect(formatValue(3)).toBe('3');
    expect(formatValue(1234567)).toBe('1234567');
    expect(formatValue(-1.23456)).toBe('-1.235');
    expect(formatValue(0.0000123456)).toBe('0.00001235');
    expect(formatValue(1e-9)).toBe('1e-9');
  });

  it('puts the latest value of every metric in one cell, and an empty cell for none', () => {
    const points = [
      { key: 'acc', value: 0.91234 },
      { key: 'val loss', value: 0.3 },
    ];
    expect(metricSummary(points)).toBe('acc=0.9123, val loss=0.3');
    expect(metricSummary([])).toBe('');
  });

  it('shows times to the second, and nothing for a run that has not ended', () => {
    expect(shortTime('2024-05-01T10:00:00.123Z')).toBe('2024-05-01T10:00:00Z');
    expect(shortTime(null)).toBe('');
  });

  it('shows a run with its experiment by name, and only the sections it has', () => {
    expect(runText(run({}), 'sentiment')).toBe(
      'baseline (run_1) in sentiment: running\nstarted 2024-05-01T10:00:00Z',
    );
    const ended = run({
      status: 'finished',
      endedAt: '2024-05-01T11:30:00.000Z',
      params: { lr: '0.01' },
      tags: { team: 'nlp' },
      metrics: [{ key: 'loss', value: 0.123456789, step: 2, timestamp: '2024-05-01T11:00:00.000Z' }],
      modelVersions: [
        { id: 'ver_1', modelId: 'mdl_1', modelName: 'ocr-cls', version: 3, status: 'ready', createdAt: '' },
      ],
    });
    expect(runText(ended, 'sentiment')).toBe(
      [
        'baseline (run_1) in sentiment: finished',
        'started 2024-05-01T10:00:00Z, ended 2024-05-01T11:30:00Z',
        '',
        'PARAM  VALUE',
        'lr     0.01',
        '',
        'TAG   VALUE',
        'team  nlp',
        '',
        'METRIC  LATEST       STEP  TIME',
        'loss    0.123456789  2     2024-05-01T11:00:00Z',
        '',
        'Model versions: ocr-cls v3',
      ].join('\n'),
    );
  });
});
