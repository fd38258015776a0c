import type { Schema } from '@meridian/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApi } from '../fake-api.test-helper.js';

type LogPage = Schema<'WorkloadLogs'>;

const line = {
  time: '2026-12-07T10:00:00.000Z',
  seq: 1,
  agentId: 'agt_1',
  stream: 'stdout' as const,
  line: 'loaded',
};

// A fake control plane answers here: the deployment ocr-cls, and the log page each case sets (its agents'
// answers are what the case is about, and a real agent cannot be made to answer 502 on demand).
describe('deployments logs when replicas cannot be read', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  const deployment = { id: 'dep_1', name: 'ocr-cls', desiredReplicas: 2 };
  const logs = (page: LogPage) => {
    api.answer({ 'GET /v1/deployments': { items: [deployment] }, 'GET /v1/deployments/dep_1/logs': page });
    return api.run(['deployments', 'logs', 'ocr-cls']);
  };

  beforeAll(async () => {
    api = await fakeApi();
  });
  afterAll(async () => {
    await api.close();
  });

  it('exits 1 and says why when not one replica could be read, naming each by deployment and version', async () => {
    const page: LogPage = {
      lines: [],
      replicas: [
        { replica: 'wl_a', agentId: 'agt_1', phase: 'ready', version: 1, error: 'its agent answered 502' },
        { replica: 'wl_b', agentId: 'agt_2', phase: 'ended', error: 'its agent cannot be reached' },
      ],
    };
    const { code, stdout, stderr } = await logs(page);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      'No log line of ocr-cls could be read: ocr-cls v1 (replica wl_a): its agent answered 502; ' +
        'ocr-cls (replica wl_b): its agent cannot be reached',
    );
  });

  it('prints the lines it could read and names the replica it could not, exiting 0', async () => {
    const page: LogPage = {
      lines: [{ ...line, replica: 'wl_a' }],
      replicas: [
        { replica: 'wl_a', agentId: 'agt_1', phase: 'ready', version: 1 },
        { replica: 'wl_b', agentId: 'agt_2', phase: 'ready', version: 2, error: 'its agent answered 502' },
      ],
    };
    const { code, stdout, stderr } = await logs(page);
    expect(code).toBe(0);
    expect(stderr).toContain('(ocr-cls v2 (replica wl_b): its agent answered 502)');
    expect(stdout).toBe('2026-12-07T10:00:00.000Z wl_a loaded\n');
  });

  it('exits 0 on a deployment with no replica at all: nothing failed', async () => {
    const { code } = await logs({ lines: [], replicas: [] });
    expect(code).toBe(0);
  });
});
