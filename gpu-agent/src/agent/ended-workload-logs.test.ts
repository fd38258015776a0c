import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EndedWorkloadLogs } from './ended-workload-logs.js';
import { WorkloadLogs } from './workload-logs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ended-logs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('EndedWorkloadLogs', () => {
  it('serves a removed workload’s lines until its window passes, then forgets them on disk too', async () => {
    let now = 1_000;
    const logs = new WorkloadLogs(join(dir, 'logs'), {}, () => now);
    const ended = new EndedWorkloadLogs(logs, join(dir, 'ended.json'), { retentionMs: 60_000 }, () => now);
    logs.append('wl_a', 'agent', 'request r1 failed (400): bad input');
    logs.append('wl_live', 'agent', 'ready');
    ended.ended('wl_a');
    now += 59_000;
    expect(ended.read('wl_a', {}).map((l) => l.line)).toEqual(['request r1 failed (400): bad input']);
    now += 2_000;
    expect(ended.holds('wl_a')).toBe(false);
    expect(ended.read('wl_a', {})).toEqual([]);
    // A workload still running is never aged out, however quiet.
    expect(ended.holds('wl_live')).toBe(true);
    logs.close();
    expect(await readdir(join(dir, 'logs'))).toEqual(['wl_live.log']);
  });

  it('keeps the window across a restart of the agent', () => {
    let now = 1_000;
    const logs = new WorkloadLogs(join(dir, 'logs'), {}, () => now);
    const first = new EndedWorkloadLogs(logs, join(dir, 'ended.json'), { retentionMs: 60_000 }, () => now);
    logs.append('wl_a', 'agent', 'stopped');
    first.ended('wl_a');
    logs.close();
    now += 30_000;
    const again = new WorkloadLogs(join(dir, 'logs'), {}, () => now);
    const second = new EndedWorkloadLogs(again, join(dir, 'ended.json'), { retentionMs: 60_000 }, () => now);
    expect(second.read('wl_a', {}).map((l) => l.line)).toEqual(['stopped']);
    now += 31_000;
    const third = new EndedWorkloadLogs(again, join(dir, 'ended.json'), { retentionMs: 60_000 }, () => now);
    expect(third.holds('wl_a')).toBe(false);
  });

  it('holds at most its count of removed workloads, forgetting the earliest removed first', () => {
    let now = 1_000;
    const logs = new WorkloadLogs(join(dir, 'logs'), {}, () => now);
    const ended = new EndedWorkloadLogs(logs, join(dir, 'ended.json'), { maxWorkloads: 2 }, () => now);
    for (const id of ['wl_1', 'wl_2', 'wl_3']) {
      logs.append(id, 'agent', 'stopped');
      now += 1;
      ended.ended(id);
    }
    expect(['wl_1', 'wl_2', 'wl_3'].map((id) => ended.holds(id))).toEqual([false, true, true]);
  });
});
