import { newId } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';
import { notebookSessions, notebooks, workloads } from '../../db/schema.js';

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

/** A notebook row as POST /v1/notebooks writes it. */
async function notebook(owner: { orgId: string; userId: string }, idleTimeoutSeconds = 60) {
  const id = newId('notebook');
  await t.db.insert(notebooks).values({
    id,
    orgId: owner.orgId,
    ownerId: owner.userId,
    name: `nb-${id.slice(-6)}`,
    gpuType: 't4',
    gpuCount: 1,
    image: 'quay.io/jupyter/base-notebook',
    idleTimeoutSeconds,
    desired: 'running',
    token: 't'.repeat(32),
    updatedAt: new Date(),
  });
  return id;
}
const row = async (id: string) => (await t.db.select().from(notebooks).where(eq(notebooks.id, id)))[0];
const sessions = (id: string) =>
  t.db.select().from(notebookSessions).where(eq(notebookSessions.notebookId, id));

/** A notebook wanted running, an agent that can run it, and the first tick that places it there. */
async function placedNotebook(idleTimeoutSeconds?: number) {
  const owner = await t.client.register('owner');
  const agent = await fakeAgent(t, { runtimes: ['process'] });
  const id = await notebook(owner, idleTimeoutSeconds);
  // Ticks run minutes ahead of the clock here; the agent must not count as lost meanwhile.
  const scheduler = testScheduler(t, { heartbeatTimeoutMs: 3_600_000 });
  const start = Date.now();
  await scheduler.tick(start);
  return { agent, id, scheduler, start };
}

describe('scheduler: notebooks', () => {
  it('runs a notebook with its token and base path, records its session, and ends it on stop', async () => {
    const { agent, id, scheduler, start } = await placedNotebook();
    const [w] = (await agent.desired()).workloads;
    expect(w?.kind === 'notebook' && [w.notebookId, w.token, w.basePath]).toEqual([
      id,
      't'.repeat(32),
      `/notebooks/${id}/`,
    ]);
    expect((await row(id))?.status).toBe('starting');

    const activity = new Date(start).toISOString();
    await agent.report('ready', {
      endpoint: `http://127.0.0.1:9999/notebooks/${id}/`,
      lastActivityAt: activity,
    });
    await scheduler.tick(start + 1_000);
    const running = await row(id);
    expect(running?.status).toBe('running');
    expect(running?.endpoint).toBe(`http://127.0.0.1:9999/notebooks/${id}/`);
    expect(await sessions(id)).toHaveLength(1);

    await t.db.update(notebooks).set({ desired: 'stopped' }).where(eq(notebooks.id, id));
    await scheduler.tick(start + 31_000);
    expect((await agent.desired()).workloads).toEqual([]);
    expect((await row(id))?.status).toBe('stopped');
    const [s] = await sessions(id);
    expect([s?.seconds, s?.endReason]).toEqual([30, 'stopped']);
  });

  it('ends the session of a notebook whose server exits after it was ready, and says why', async () => {
    const { agent, id, scheduler, start } = await placedNotebook();
    await agent.report('ready', { lastActivityAt: new Date(start).toISOString() });
    await scheduler.tick(start + 1_000);
    expect((await sessions(id))[0]?.endedAt).toBeNull();

    const reason = 'notebook nb (4242) exited after it was ready with code 137; last output: Killed';
    await agent.report('failed', { reason });
    await scheduler.tick(start + 21_000);
    const failed = await row(id);
    expect([failed?.status, failed?.statusReason]).toEqual(['failed', reason]);
    const [s] = await sessions(id);
    expect([s?.seconds, s?.endReason]).toEqual([20, `failed: ${reason}`]);
    // Later ticks leave the ended session as it is: billed once, up to the exit.
    await scheduler.tick(start + 60_000);
    expect((await sessions(id)).map((x) => x.seconds)).toEqual([20]);
  });

  it('culls a notebook idle past its timeout, judged by the activity its server reports', async () => {
    const { agent, id, scheduler, start } = await placedNotebook(10);
    await agent.report('ready', { lastActivityAt: new Date(start + 5_000).toISOString() });
    await scheduler.tick(start + 1_000);
    // Idle for 9 s since the last reported activity: still running.
    await scheduler.tick(start + 14_000);
    expect((await row(id))?.status).toBe('running');
    await scheduler.tick(start + 15_500);
    const culled = await row(id);
    expect([culled?.status, culled?.desired]).toEqual(['stopped', 'stopped']);
    expect(culled?.statusReason).toMatch(/^culled: idle since .*idle timeout of 10 s/);
    expect((await sessions(id))[0]?.endReason).toMatch(/^culled/);
    expect(await t.db.select().from(workloads).where(eq(workloads.notebookId, id))).toEqual([]);
  });

  it('keeps a notebook pending with the reason when no host has its GPU', async () => {
    const owner = await t.client.register('owner');
    await fakeAgent(t, {
      inventory: {
        gpus: [],
        cpu: { cores: 2, memoryMiB: 4096 },
        disk: { freeBytes: 1e10, totalBytes: 1e11 },
      },
    });
    const id = await notebook(owner);
    await testScheduler(t).tick();
    const pending = await row(id);
    expect(pending?.status).toBe('pending');
    expect(pending?.statusReason).toMatch(/T4/);
  });
});
