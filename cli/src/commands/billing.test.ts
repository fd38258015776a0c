import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { usageTable } from './billing.js';

type UsageLine = Schema<'UsageSummary'>['lines'][number];

const line = (over: Partial<UsageLine>) =>
  ({
    key: null,
    name: null,
    meter: 'inference_calls',
    billableQuantity: 1,
    unit: 'call',
    amountUsd: '0.001',
    ...over,
  }) as UsageLine;

describe('usageTable', () => {
  it('names the lines outside a grouping by what they are, not all as storage', () => {
    const byDeployment = usageTable('deployment', [
      line({ key: 'dep_1', name: 'ocr-cls' }),
      line({ key: 'dep_1', name: 'ocr-cls', meter: 'cpu_minutes', unit: 'minute' }),
      line({ meter: 'cpu_minutes', unit: 'minute' }),
      line({ meter: 'storage_mb_hours', unit: 'MB-hour' }),
      line({ key: 'dep_2' }),
    ]).split('\n');
    expect(byDeployment.map((row) => row.split(/\s{2,}/)[0])).toEqual([
      'DEPLOYMENT',
      'ocr-cls',
      'ocr-cls',
      '(notebooks)',
      '(storage)',
      'dep_2 (deleted)',
    ]);
    const byNotebook = usageTable('notebook', [
      line({ key: 'nb_1', name: 'lab', meter: 'gpu_t4_minutes', unit: 'minute' }),
      line({ meter: 'cpu_minutes', unit: 'minute' }),
      line({}),
    ]).split('\n');
    expect(byNotebook.map((row) => row.split(/\s{2,}/)[0])).toEqual([
      'NOTEBOOK',
      'lab',
      '(deployments)',
      '(no notebook)',
    ]);
  });
});
