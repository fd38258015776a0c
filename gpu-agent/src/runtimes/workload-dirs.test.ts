import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** Every chown and chmod the agent makes, with who owned the runtime dir at that moment. */
const touched: { call: string; path: string; runDirUid: number | undefined }[] = [];
let watchedRunDir = '';
/** Runs just before root copies a file: where a process of the workload's user gets its chance. */
let beforeCopy: (() => void) | undefined;
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const owner = async () => (await real.stat(watchedRunDir).catch(() => undefined))?.uid;
  return {
    ...real,
    chown: async (path: string, uid: number, gid: number) => {
      touched.push({ call: 'chown', path, runDirUid: await owner() });
      return real.chown(path, uid, gid);
    },
    copyFile: async (source: string, target: string, mode?: number) => {
      beforeCopy?.();
      return real.copyFile(source, target, mode);
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
    beforeCopy = undefined;
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

  it('holds the workload’s copy of its model file, written before the user can swap the folder for a link', async () => {
    const dirs = new WorkloadDirs(root);
    await dirs.prepare();
    const owner = { user: 'nobody', uid: 65534, gid: 65534 };
    const source = join(root, 'cached-model');
    await writeFile(source, 'onnx bytes');
    const victim = join(root, 'shadow');
    await writeFile(victim, 'root:secret', { mode: 0o600 });
    // The user's leftover process, as that user: moves `model` aside and makes its own with a link where root
    // is about to write the copy. It can only if the runtime dir is already theirs.
    beforeCopy = () => {
      const run = dirs.runDir('wl_1');
      const attack = `cd ${run} && mv model model.old && mkdir model && ln -s ${victim} model/model`;
      try {
        execFileSync('sh', ['-c', attack], { uid: owner.uid, gid: owner.gid, stdio: 'ignore' });
      } catch {
        // refused: the runtime dir is still root's
      }
    };
    await dirs.freshRunDir('wl_1', owner, { modelFile: source });

    const shadow = await stat(victim);
    expect({ uid: shadow.uid, text: await readFile(victim, 'utf8') }).toEqual({
      uid: 0,
      text: 'root:secret',
    });
    const copy = join(dirs.modelDir('wl_1'), 'model');
    expect(await readFile(copy, 'utf8')).toBe('onnx bytes');
    for (const [path, mode] of [
      [copy, 0o400],
      [dirs.modelDir('wl_1'), 0o500],
    ] as const) {
      const s = await stat(path);
      expect({ uid: s.uid, mode: s.mode & 0o777 }).toEqual({ uid: 65534, mode });
    }
  });
});
