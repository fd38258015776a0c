import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notebooks, workloads } from '../control-plane/src/db/schema.js';
import { recordNotebookRun, registerTestAgent } from '../control-plane/testing/agents.js';
import { createTestApp, type Session } from '../control-plane/testing/test-app.js';
import { NotebookSaveError } from '../gpu-agent/src/agent/notebook-unsaved.js';
import { NotebookVolumes, notebookVolumeName } from '../gpu-agent/src/agent/notebook-volumes.js';
import { WorkloadDirs } from '../gpu-agent/src/runtimes/workload-dirs.js';
import { WorkloadUsers } from '../gpu-agent/src/runtimes/workload-users.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/**
 * The agent's side of a save that fails, against the real control plane app (libSQL, filesystem storage) and
 * the host's real tar and workload users: a failure the control plane could not hear of at the time is told
 * once it answers, and a copy whose save failed never overwrites newer files another host saved since.
 */
describe('an agent whose save of a notebook failed', () => {
  let t: TestApp;
  let owner: Session;
  let agent: { agentId: string; credential: string };
  let root = '';
  let notebookId = '';
  let down = false;
  const reason = async () =>
    (await t.client.call('GET', `/v1/notebooks/${notebookId}`, { token: owner.accessToken })).json
      .statusReason as string;
  const volumes = () =>
    new NotebookVolumes({
      dirs: new WorkloadDirs(join(root, 'workloads')),
      users: new WorkloadUsers(),
      stateDir: join(root, 'agent', 'notebook-saves'),
      access: async () => ({ controlPlaneUrl: 'http://control-plane', credential: agent.credential }),
      // The control plane in this process; `down` stands for it not answering (the connection refused).
      fetch: async (url, init) => {
        if (down) throw new TypeError('fetch failed: connect ECONNREFUSED');
        return t.app.request(String(url), init);
      },
    });
  const volume = () => notebookVolumeName(notebookId);
  const fileOnHost = () => join(root, 'workloads', 'volumes', volume(), 'work.txt');

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    agent = await registerTestAgent(t);
    notebookId = (
      await t.client.call('POST', '/v1/notebooks', {
        token: owner.accessToken,
        body: { name: 'retried', gpuType: 'cpu' },
      })
    ).json.id;
    // It ran on this agent and has stopped as asked.
    await recordNotebookRun(t, {
      notebookId,
      orgId: owner.orgId,
      agentId: agent.agentId,
      startedAt: new Date(Date.now() - 60_000),
      endedAt: new Date(),
    });
    await t.db
      .update(notebooks)
      .set({ desired: 'stopped', status: 'stopped' })
      .where(eq(notebooks.id, notebookId));
    root = mkdtempSync(join(tmpdir(), 'meridian-save-retry-'));
    chmodSync(root, 0o711);
    const dirs = new WorkloadDirs(join(root, 'workloads'));
    await dirs.prepare();
    const owned = await new WorkloadUsers().ensure(volume(), dirs.volumeDir(volume()));
    await dirs.ownVolume(volume(), owned);
    writeFileSync(fileOnHost(), 'written on this host');
  });

  afterAll(async () => {
    await new WorkloadUsers().remove(volume());
    rmSync(root, { recursive: true, force: true });
    await t.cleanup();
  });

  it('tries 4 times, keeps the files, and tells the control plane once it answers again', async () => {
    down = true;
    const started = Date.now();
    const failed = await volumes()
      .save(notebookId, volume())
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(NotebookSaveError);
    expect((failed as NotebookSaveError).failure).toEqual({ cause: 'unreachable', attempts: 4 });
    // 1 + 2 + 4 s between the tries.
    expect(Date.now() - started).toBeGreaterThanOrEqual(7_000);
    expect(readFileSync(fileOnHost(), 'utf8')).toBe('written on this host');
    expect(await reason()).toBe('stopped as asked; its files are kept for the next start');

    down = false;
    await volumes().reportUnsaved();
    expect(await reason()).toMatch(
      /^stopped, but its files could not be saved: its host could not reach the control plane \(tried 4 times\)\. They are still on the host/,
    );
  }, 30_000);

  it('restores the newer files another host saved since instead of overwriting them with its copy', async () => {
    // Another run elsewhere saved newer files (sent here as that host's agent would: a tar).
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'work.txt'), 'newer, from another host');
    const tar = execFileSync('tar', ['-c', '-f', '-', '-C', elsewhere, '.']);
    const other = await registerTestAgent(t);
    await recordNotebookRun(t, {
      notebookId,
      orgId: owner.orgId,
      agentId: other.agentId,
      endedAt: new Date(),
    });
    const saved = await t.app.request(`/agent/v1/notebooks/${notebookId}/volume`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${other.credential}` },
      body: tar,
    });
    expect(saved.status, await saved.clone().text()).toBe(201);

    // It starts here again (placed here): the copy whose save failed is offered only over the save it was
    // made from (none), refused, and the newer files are restored.
    await t.db
      .update(notebooks)
      .set({ desired: 'running', status: 'pending' })
      .where(eq(notebooks.id, notebookId));
    await t.db.insert(workloads).values({
      id: newId('workload'),
      kind: 'notebook',
      orgId: owner.orgId,
      notebookId,
      agentId: agent.agentId,
      gpuType: 'cpu',
      gpuCount: 0,
      phase: 'pending',
    });
    expect(await volumes().restore(notebookId, volume())).toBe('restored');
    expect(readFileSync(fileOnHost(), 'utf8')).toBe('newer, from another host');
    expect(existsSync(join(root, 'agent', 'notebook-saves', `${notebookId}.unsaved`))).toBe(false);
  }, 30_000);
});
