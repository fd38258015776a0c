import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isOurLiveProcess, readProcStat, WORKLOAD_ENV } from './process-records.js';

/** A process that execs again and again (as the launch chain does) before it settles, with our variable. */
async function execChain(workloadId: string, env: Record<string, string> = {}) {
  const hops = 'exec sh -c "exec sh -c \'exec sh -c \\"exec sleep 0.3\\"\'"';
  const child = spawn('sh', ['-c', `for i in 1 2 3; do :; done; ${hops}`], {
    env: { PATH: '/usr/bin:/bin', [WORKLOAD_ENV]: workloadId, ...env },
    stdio: 'ignore',
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve(child.pid as number));
  });
  const stat = await readProcStat(pid);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const record = {
    workloadId,
    kind: 'notebook' as const,
    pid,
    startTicks: stat?.startTicks ?? null,
    workdir: '/tmp',
    logFile: '/dev/null',
    labels: {},
  };
  return { record, exited };
}

describe('isOurLiveProcess', () => {
  it('keeps seeing a process as ours while it execs, when its environment briefly reads empty', async () => {
    let checks = 0;
    for (let round = 0; round < 5; round++) {
      const { record, exited } = await execChain(`wl_chain_${round}`);
      const until = Date.now() + 200;
      while (Date.now() < until) {
        checks++;
        expect(await isOurLiveProcess(record)).toBe(true);
      }
      await exited;
      expect(await isOurLiveProcess(record)).toBe(false);
    }
    expect(checks).toBeGreaterThan(100);
  });

  it('does not take a live process carrying another workload id for ours', async () => {
    const { record, exited } = await execChain('wl_someone_else');
    expect(await isOurLiveProcess({ ...record, workloadId: 'wl_ours' })).toBe(false);
    expect(await isOurLiveProcess({ ...record, startTicks: '1' })).toBe(false);
    await exited;
  });
});
