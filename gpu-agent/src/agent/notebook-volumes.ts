import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { WorkloadDirs } from '../runtimes/workload-dirs.js';
import type { WorkloadIdentity, WorkloadUsers } from '../runtimes/workload-users.js';

const VOLUME_PREFIX = 'meridian-notebook-';
const SAVE_SUFFIX = '.save';

/** The volume a notebook's files live in on this host, named after the notebook: they outlive each start. */
export const notebookVolumeName = (notebookId: string) => `${VOLUME_PREFIX}${notebookId}`;

/** Where the control plane answers and the agent's credential for it; undefined before registration. */
export type ControlPlaneAccess = () => Promise<{ controlPlaneUrl: string; credential: string } | undefined>;

export interface NotebookVolumesOptions {
  dirs: WorkloadDirs;
  users: WorkloadUsers;
  access: ControlPlaneAccess;
  /** The agent's private dir for what it knows of each notebook's last save (never a workload's). */
  stateDir: string;
  fetch?: typeof fetch;
}

/**
 * A notebook's files travel with it: saved as one tar to the control plane's object storage when it stops
 * here, restored from there when it starts here after running elsewhere. tar runs as the notebook's own
 * user, so a tenant's links or odd names can never make it read or write outside the notebook's folder.
 * Which save this host's copy matches is kept in `stateDir`: a start after a run here downloads nothing.
 */
export class NotebookVolumes {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: NotebookVolumesOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  /** Brings the volume up to the latest save; `kept` when this host's copy is that save already. */
  async restore(notebookId: string, volume: string): Promise<'restored' | 'kept' | 'none'> {
    const known = await this.knownSave(notebookId);
    const res = await this.call('GET', notebookId, known ? { 'if-none-match': `"${known}"` } : {});
    if (res.status === 304 || res.status === 404) {
      await res.body?.cancel();
      return res.status === 304 ? 'kept' : 'none';
    }
    if (!res.ok || !res.body)
      throw new Error(`fetching the saved files answered ${res.status}: ${await res.text()}`);
    const owner = await this.owner(volume);
    const dir = await this.options.dirs.ownVolume(volume, owner);
    await runAs(owner, 'find', [dir, '-mindepth', '1', '-delete']);
    await runAs(
      owner,
      'tar',
      ['-x', '-f', '-', '-C', dir, '--no-same-owner'],
      Readable.fromWeb(res.body as NodeReadableStream),
    );
    await this.remember(notebookId, res.headers.get('etag'));
    return 'restored';
  }

  /**
   * Saves the volume (the notebook has stopped); the control plane keeps it for the next start anywhere.
   * `gone` when it answers 404: the notebook was deleted (or another host has run it since), so this host's
   * copy is nobody's files any more and the caller removes it. Final, never retried; other refusals throw.
   */
  async save(notebookId: string, volume: string): Promise<'saved' | 'gone'> {
    const owner = await this.owner(volume);
    const dir = this.options.dirs.volumeDir(volume);
    const tar = spawnAs(owner, 'tar', ['-c', '-f', '-', '-C', dir, '.']);
    const exited = exitOf(tar, 'tar -c');
    // The control plane refuses before it reads the body: the rest of the tar is never made or sent.
    const abandonTar = () => {
      tar.kill('SIGKILL');
      return exited.catch(() => undefined);
    };
    let res: Response;
    try {
      res = await this.call(
        'PUT',
        notebookId,
        { 'content-type': 'application/x-tar' },
        Readable.toWeb(tar.stdout),
      );
    } catch (err) {
      await abandonTar();
      throw err;
    }
    if (res.status !== 201) {
      await abandonTar();
      const answer = await res.text();
      if (res.status !== 404) throw new Error(`saving the files answered ${res.status}: ${answer}`);
      await rm(this.statePath(notebookId), { force: true });
      return 'gone';
    }
    await exited;
    const saved = (await res.json()) as { savedAt: number };
    await this.remember(notebookId, `"${saved.savedAt}"`);
    return 'saved';
  }

  /** The notebooks this host keeps anything of (a volume folder or a save marker), running ones too. */
  async kept(): Promise<string[]> {
    const volumes = await readdir(join(this.options.dirs.root, 'volumes')).catch(() => [] as string[]);
    const marks = await readdir(this.options.stateDir).catch(() => [] as string[]);
    const ids = [
      ...volumes.map((v) => decoded(v, VOLUME_PREFIX, '')),
      ...marks.map((m) => decoded(m, '', SAVE_SUFFIX)),
    ];
    return [...new Set(ids.filter((id) => id !== undefined))];
  }

  /** Removes all this host keeps of a deleted notebook: its files, its system user and its save marker. */
  async forget(notebookId: string): Promise<void> {
    const volume = notebookVolumeName(notebookId);
    await this.options.dirs.removeVolume(volume);
    await this.options.users.remove(volume);
    await rm(this.statePath(notebookId), { force: true });
  }

  private owner(volume: string): Promise<WorkloadIdentity> {
    return this.options.users.ensure(volume, this.options.dirs.volumeDir(volume));
  }

  private async call(
    method: string,
    notebookId: string,
    headers: Record<string, string>,
    body?: ReadableStream,
  ) {
    const access = await this.options.access();
    if (!access) throw new Error('not registered with a control plane yet');
    const url = `${access.controlPlaneUrl.replace(/\/+$/, '')}/agent/v1/notebooks/${encodeURIComponent(notebookId)}/volume`;
    return this.fetch(url, {
      method,
      headers: { ...headers, authorization: `Bearer ${access.credential}` },
      ...(body ? { body, duplex: 'half' } : {}),
    } as RequestInit);
  }

  private statePath(notebookId: string): string {
    return join(this.options.stateDir, `${encodeURIComponent(notebookId)}${SAVE_SUFFIX}`);
  }

  private async knownSave(notebookId: string): Promise<string | undefined> {
    return (
      (await readFile(this.statePath(notebookId), 'utf8').catch(() => '')).trim().replaceAll('"', '') ||
      undefined
    );
  }

  private async remember(notebookId: string, etag: string | null): Promise<void> {
    if (!etag) return;
    await mkdir(this.options.stateDir, { recursive: true, mode: 0o700 });
    await writeFile(this.statePath(notebookId), etag.replaceAll('"', ''), { mode: 0o600 });
  }
}

/** The notebook id in an encoded file name `<prefix><id><suffix>`; undefined for any other name. */
function decoded(name: string, prefix: string, suffix: string): string | undefined {
  try {
    const plain = decodeURIComponent(name);
    if (!plain.startsWith(prefix) || !plain.endsWith(suffix)) return undefined;
    return plain.slice(prefix.length, plain.length - suffix.length) || undefined;
  } catch {
    return undefined; // not a name this agent wrote
  }
}

/** `command` as the workload's user: no groups, no capabilities, nothing of the agent's environment. */
function spawnAs(owner: WorkloadIdentity, command: string, args: string[]) {
  return spawn(
    'setpriv',
    [
      `--reuid=${owner.uid}`,
      `--regid=${owner.gid}`,
      '--clear-groups',
      '--no-new-privs',
      '--',
      command,
      ...args,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } },
  );
}

async function runAs(
  owner: WorkloadIdentity,
  command: string,
  args: string[],
  input?: Readable,
): Promise<void> {
  const child = spawnAs(owner, command, args);
  const exited = exitOf(child, command);
  if (input) input.pipe(child.stdin);
  else child.stdin.end();
  child.stdout.resume();
  await exited;
}

function exitOf(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 2_000) stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} exited ${code}: ${stderr.trim().slice(0, 500)}`)),
    );
  });
}
