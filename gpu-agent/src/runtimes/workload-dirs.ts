import { constants } from 'node:fs';
import { chmod, chown, copyFile, lchown, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MODEL_FILE_NAME } from './types.js';
import type { WorkloadIdentity } from './workload-users.js';

/** Root-owned, traversable, not listable: a workload user can reach its own folder and guess no other. */
const TRAVERSE_ONLY = 0o711;
const PRIVATE = 0o700;

/**
 * The workloads root (docs/adr/0005-agent-directory-layout.md), outside the agent's private data dir:
 *
 *   <root>/               0711 root
 *     volumes/<name>/     0700 the workload's user: a notebook's files, its HOME, kept across starts
 *     run/<workload>/     0700 the workload's user: its server socket, emptied each start
 *       tmp/              0700 the workload's user: its temp dir (TMPDIR, and /tmp in its mount namespace)
 *       model/            0500 the workload's user: its own read-only copy of its model file (0400)
 */
export class WorkloadDirs {
  constructor(readonly root: string) {}

  volumeDir(name: string): string {
    return join(this.root, 'volumes', encodeURIComponent(name));
  }

  runDir(workloadId: string): string {
    return join(this.root, 'run', encodeURIComponent(workloadId));
  }

  /** The workload's own temp dir, inside its runtime dir: never the volume, whose files are saved. */
  tmpDir(workloadId: string): string {
    return join(this.runDir(workloadId), 'tmp');
  }

  /** The folder holding the workload's copy of its model file, inside its runtime dir. */
  modelDir(workloadId: string): string {
    return join(this.runDir(workloadId), 'model');
  }

  /** Creates the root and its two folders (0711, root's), tightening them if they were looser. */
  async prepare(): Promise<void> {
    for (const dir of [this.root, join(this.root, 'volumes'), join(this.root, 'run')]) {
      await mkdir(dir, { recursive: true, mode: TRAVERSE_ONLY });
      await chmod(dir, TRAVERSE_ONLY);
    }
  }

  /**
   * Why a workload user could not reach the root, or undefined when it can: every folder above it must be
   * searchable by others (a `mkdtemp` folder is 0700, for one).
   */
  async unreachableReason(): Promise<string | undefined> {
    let dir = dirname(this.root);
    for (;;) {
      const info = await stat(dir).catch(() => undefined);
      if (info && (info.mode & constants.S_IXOTH) === 0) {
        const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
        return `workload users cannot reach ${this.root}: ${dir} is mode ${mode} (needs o+x; or set MERIDIAN_AGENT_WORKLOADS_DIR elsewhere)`;
      }
      const parent = dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  }

  /** A workload's volume, created or handed to its user (files carried over from an older layout too). */
  async ownVolume(name: string, owner: WorkloadIdentity): Promise<string> {
    const dir = this.volumeDir(name);
    await mkdir(dir, { recursive: true, mode: PRIVATE });
    await chownTree(dir, owner);
    await chmod(dir, PRIVATE);
    return dir;
  }

  /**
   * A fresh, empty runtime dir for this start, with an empty temp dir in it: a stale socket from the last run
   * would fail the bind, and no temp file outlives the run that wrote it. With `modelFile`, it also holds the
   * workload's own copy of it (`modelDir`): a copy, not a link (a hard link would share the cache file's owner
   * and mode), so nothing the workload does reaches the agent's cache; reflinked where the filesystem can.
   */
  async freshRunDir(
    workloadId: string,
    owner: WorkloadIdentity,
    options: { modelFile?: string } = {},
  ): Promise<string> {
    const dir = this.runDir(workloadId);
    await rm(dir, { recursive: true, force: true });
    // Everything is made while the runtime dir is root's, then handed over innermost first: once the runtime
    // dir is the user's, a process of theirs still running could swap its entries for links, and chown,
    // chmod and copyFile follow links; so root touches nothing inside it after that.
    const tmp = this.tmpDir(workloadId);
    await mkdir(dir, { mode: PRIVATE });
    await mkdir(tmp, { mode: PRIVATE });
    const handOver: [path: string, mode: number][] = [];
    if (options.modelFile) {
      const modelDir = this.modelDir(workloadId);
      await mkdir(modelDir, { mode: PRIVATE });
      const file = join(modelDir, MODEL_FILE_NAME);
      await copyFile(options.modelFile, file, constants.COPYFILE_FICLONE);
      handOver.push([file, 0o400], [modelDir, 0o500]);
    }
    handOver.push([tmp, PRIVATE], [dir, PRIVATE]);
    for (const [path, mode] of handOver) {
      await chmod(path, mode);
      await chown(path, owner.uid, owner.gid);
    }
    return dir;
  }

  async removeRunDir(workloadId: string): Promise<void> {
    await rm(this.runDir(workloadId), { recursive: true, force: true });
  }

  async removeVolume(name: string): Promise<void> {
    await rm(this.volumeDir(name), { recursive: true, force: true });
  }

  /**
   * Moves volumes of the old layout (`<agent data>/processes/volumes/<name>`, inside the agent's private dir,
   * owned by the agent) here; their next start hands them to their user. Returns the names moved.
   */
  async adoptLegacyVolumes(legacyDir: string): Promise<string[]> {
    const names = await readdir(legacyDir).catch(() => [] as string[]);
    const moved: string[] = [];
    for (const encoded of names) {
      const target = join(this.root, 'volumes', encoded);
      if (await lstat(target).catch(() => undefined)) continue; // already there: keep the newer one
      await rename(join(legacyDir, encoded), target);
      await chmod(target, PRIVATE);
      moved.push(decodeURIComponent(encoded));
    }
    if (moved.length === names.length) await rm(legacyDir, { recursive: true, force: true });
    return moved;
  }
}

/** chown -R without following symlinks: a link a tenant planted must not hand it files outside its tree. */
async function chownTree(dir: string, owner: WorkloadIdentity): Promise<void> {
  const info = await lstat(dir);
  if (info.uid === owner.uid && info.gid === owner.gid) return; // already its: the common case, no walk
  await lchown(dir, owner.uid, owner.gid);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(path, owner);
    else await lchown(path, owner.uid, owner.gid);
  }
}
