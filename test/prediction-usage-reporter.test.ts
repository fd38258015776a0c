import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../control-plane/testing/scheduler.js';
import { createTestApp, type Session } from '../control-plane/testing/test-app.js';
import { ApiClient } from '../gpu-agent/src/agent/api-client.js';
import { silentLogger } from '../gpu-agent/src/agent/logger.js';
import { UsageJournal } from '../gpu-agent/src/agent/usage-journal.js';
import { PredictionUsageReporter } from '../gpu-agent/src/agent/usage-prediction-reporter.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/**
 * The agent's journal and reporter against the real control-plane app (in process, on libsql): reports
 * survive a control plane that does not answer, and a lost acknowledgement, without a call lost or doubled.
 */
describe('prediction usage reports from the agent to the control plane', () => {
  let t: TestApp;
  let owner: Session;
  let dir = '';
  let depId = '';
  let keyId = '';
  let credential = '';
  let down = false;
  let dropAnswers = false;

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    keyId = (await t.client.createKey(owner, { scopes: ['predict'] })).id;
    const agent = await fakeAgent(t);
    credential = agent.credential;
    depId = (await deployedModel(t, owner, { replicas: 1 })).id;
    await testScheduler(t).tick();
    await agent.desired();
    dir = await mkdtemp(join(tmpdir(), 'reporter-'));
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    t.cleanup();
  });

  // The control plane as the agent's HTTP client reaches it, which the test can take down or make lose answers.
  const api = new ApiClient({
    baseUrl: 'http://control-plane',
    credential: '',
    fetch: async (input, init) => {
      if (down) throw new TypeError('fetch failed');
      const res = await t.app.request(String(input).replace('http://control-plane', ''), init);
      if (dropAnswers) throw new TypeError('socket hang up');
      return res;
    },
  });
  const billed = async () => {
    const res = await t.client.call('GET', '/v1/billing/usage?groupBy=deployment', {
      token: owner.accessToken,
    });
    return (res.json.lines as { key: string; meter: string; rawQuantity: number }[])
      .filter((l) => l.key === depId && l.meter === 'inference_calls')
      .reduce((n, l) => n + l.rawQuantity, 0);
  };

  it('keeps a sealed report while the control plane is down or its answer is lost, and bills it once', async () => {
    const journal = await UsageJournal.open(join(dir, 'usage'), { log: silentLogger });
    const reporter = new PredictionUsageReporter(journal, silentLogger);
    const authed = api.withCredential(credential);
    const call = { orgId: owner.orgId, keyId, userId: null, deploymentId: depId, bytesIn: 1, bytesOut: 2 };
    await Promise.all(Array.from({ length: 25 }, () => journal.record(call)));

    down = true;
    expect(await reporter.flush(authed)).toBe(false);
    expect((await readdir(join(dir, 'usage'))).filter((n) => n.startsWith('sealed-'))).toHaveLength(1);
    expect(await billed()).toBe(0);

    // Stored, but the agent never hears so: it sends the same report again, which counts nothing new.
    down = false;
    dropAnswers = true;
    await Promise.all(Array.from({ length: 5 }, () => journal.record(call)));
    expect(await reporter.flush(authed)).toBe(false);
    expect(await billed()).toBe(25);

    dropAnswers = false;
    expect(await reporter.flush(authed)).toBe(true);
    expect(await billed()).toBe(30);
    expect((await readdir(join(dir, 'usage'))).filter((n) => n.startsWith('sealed-'))).toEqual([]);
    await journal.close();
  });
});
