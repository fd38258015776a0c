import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** Every chown and chmod the agent makes, with who owned the runtime dir at that moment. */
const touched: { call: string; path: string; runDirUid: number | undefined }[] = [];
let watchedRunDir = '';
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const owner = async () => (await real.stat(watchedRunDir).catch(() => undefined))?.uid;
  return {
    ...real,
    chown: async (path: string, uid: number, gid: number) => {
      touched.push({ call: 'chown', path, runDirUid: await owner() });
      return real.chown(path, uid, gid);
    },
    chmod: async (path: string, mode: number) => {
      touched.push({ call: 'chmod', path, runDirUid: await owner() });
      return real.chmod(path, mode);
    },
  };
});

const { WorkloadDirs } = await import('./workload-dirs.js');

describe.runIf(process.getuid?.() === 0)('a workload’s fresh runtime dir', () => {
  let root = '';
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'workload-dirs-'));
    touched.length = 0;
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('is handed to the workload’s user only once everything in it is made, so root never follows its links', async () => {
    const dirs = new WorkloadDirs(root);
    await dirs.prepare();
    watchedRunDir = dirs.runDir('wl_1');
    const owner = { user: 'nobody', uid: 65534, gid: 65534 };
    const dir = await dirs.freshRunDir('wl_1', owner);

    // A process of that user still running (one that left its process group) could swap `tmp` for a link to
    // /etc/shadow while the runtime dir is theirs; root must not chown or chmod anything inside it by then.
    const inside = touched.filter((t) => t.path.startsWith(`${dir}/`));
    expect(inside.length).toBeGreaterThan(0);
    for (const t of inside) expect(t, `${t.call} ${t.path}`).toMatchObject({ runDirUid: 0 });
    for (const path of [dir, dirs.tmpDir('wl_1')]) {
      const s = await stat(path);
      expect({ uid: s.uid, mode: s.mode & 0o777 }).toEqual({ uid: 65534, mode: 0o700 });
    }
  });
});
