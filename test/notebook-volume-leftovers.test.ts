import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { notebooks, workloads } from '../control-plane/src/db/schema.js';
import { recordNotebookRun, registerTestAgent } from '../control-plane/testing/agents.js';
import { createTestApp, type Session } from '../control-plane/testing/test-app.js';
import { NotebookVolumes, notebookVolumeName } from '../gpu-agent/src/agent/notebook-volumes.js';
import { startLeftoverSwapper } from '../gpu-agent/src/runtimes/testing/leftover-process.js';
import { processesOf } from '../gpu-agent/src/runtimes/uid-processes.js';
import { WorkloadDirs } from '../gpu-agent/src/runtimes/workload-dirs.js';
import { type WorkloadIdentity, WorkloadUsers } from '../gpu-agent/src/runtimes/workload-users.js';

/** Runs just before root lists a folder: where a leftover process of the notebook's user gets its chance. */
let beforeListing: ((path: string) => Promise<void>) | undefined;
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    readdir: async (...args: Parameters<typeof real.readdir>) => {
      await beforeListing?.(String(args[0]));
      return real.readdir(...args);
    },
  };
});

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/**
 * Root hands a notebook's volume to its user when it restores the files saved elsewhere, and removes it when
 * the notebook is deleted, against the real control plane app (libSQL, filesystem storage), the host's real
 * tar and workload users: a process of that user left running (escaped from its group, or a second
 * container) is killed first, so it can never swap a folder for a link to host files under root's walk.
 */
describe.runIf(process.getuid?.() === 0)('a notebook volume whose user left a process running', () => {
  let t: TestApp;
  let owner: Session;
  let agent: { agentId: string; credential: string };
  let root = '';
  let notebookId = '';
  let user: WorkloadIdentity;
  const dirs = () => new WorkloadDirs(join(root, 'workloads'));
  const volume = () => notebookVolumeName(notebookId);
  const volumes = () =>
    new NotebookVolumes({
      dirs: dirs(),
      users: new WorkloadUsers(),
      stateDir: join(root, 'agent', 'notebook-saves'),
      access: async () => ({ controlPlaneUrl: 'http://control-plane', credential: agent.credential }),
      fetch: async (url, init) => t.app.request(String(url), init),
    });

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    agent = await registerTestAgent(t);
    notebookId = (
      await t.client.call('POST', '/v1/notebooks', {
        token: owner.accessToken,
        body: { name: 'leftovers', gpuType: 'cpu' },
      })
    ).json.id;
    root = mkdtempSync(join(tmpdir(), 'meridian-volume-leftovers-'));
    chmodSync(root, 0o711);
    await dirs().prepare();
    user = await new WorkloadUsers().ensure(volume(), dirs().volumeDir(volume()));
  });

  afterAll(async () => {
    beforeListing = undefined;
    await new WorkloadUsers().remove(volume()).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    await t.cleanup();
  });

  it('is killed before a restore hands the volume over, so root never follows its link to host files', async () => {
    // Its last run was on another host, which saved its files; it is placed here now.
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'work.txt'), 'saved on another host');
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
      body: execFileSync('tar', ['-c', '-f', '-', '-C', elsewhere, '.']),
    });
    expect(saved.status, await saved.clone().text()).toBe(201);
    await t.db.update(notebooks).set({ desired: 'running' }).where(eq(notebooks.id, notebookId));
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
    // Files here from an older layout, still root's: handing them over walks the tree.
    const volumeDir = dirs().volumeDir(volume());
    mkdirSync(join(volumeDir, 'sub'), { recursive: true, mode: 0o700 });
    writeFileSync(join(volumeDir, 'sub', 'old.txt'), 'old');
    // Stands in for /etc: a folder of root's files the user must never get.
    const hostDir = join(root, 'host-etc');
    mkdirSync(hostDir, { mode: 0o700 });
    writeFileSync(join(hostDir, 'shadow'), 'root:secret', { mode: 0o600 });
    // Once the volume is the user's, its process swaps `sub` for a link to hostDir when root lists `sub`.
    const leftover = await startLeftoverSwapper(user, volumeDir, 'sub', hostDir);
    let swapped = false;
    beforeListing = async (path) => {
      if (path === join(volumeDir, 'sub')) swapped ||= await leftover.swap();
    };
    try {
      expect(await volumes().restore(notebookId, volume())).toBe('restored');
    } finally {
      beforeListing = undefined;
      await leftover.kill();
    }

    const shadow = statSync(join(hostDir, 'shadow'));
    expect({ uid: shadow.uid, text: readFileSync(join(hostDir, 'shadow'), 'utf8') }).toEqual({
      uid: 0,
      text: 'root:secret',
    });
    expect(swapped).toBe(false);
    expect(readFileSync(join(volumeDir, 'work.txt'), 'utf8')).toBe('saved on another host');
    expect(statSync(join(volumeDir, 'work.txt')).uid).toBe(user.uid);
  });

  it('is killed before a deleted notebook’s files and user are removed, so the user goes too', async () => {
    const leftover = await startLeftoverSwapper(user, dirs().volumeDir(volume()), 'sub', root);
    try {
      await volumes().forget(notebookId);
      expect((await processesOf(user.uid)).includes(leftover.pid)).toBe(false);
    } finally {
      await leftover.kill();
    }
    expect(existsSync(dirs().volumeDir(volume()))).toBe(false);
    expect(await new WorkloadUsers().find(volume())).toBeUndefined();
  });
});
