import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { WorkloadDirs } from '../runtimes/workload-dirs.js';
import type { WorkloadIdentity, WorkloadUsers } from '../runtimes/workload-users.js';
import { answerFailure, NotebookSaveError, SaveAttemptError, UnsavedMarks } from './notebook-unsaved.js';

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

/** Tries of a save before it is given up (the files stay here), and the wait before the second, doubled after. */
const SAVE_ATTEMPTS = 4;
const FIRST_RETRY_DELAY_MS = 1_000;

/**
 * A notebook's files travel with it: saved as one tar to the control plane's object storage when it stops
 * here, restored from there when it starts here after running elsewhere. tar runs as the notebook's own
 * user, so a tenant's links or odd names can never make it read or write outside the notebook's folder.
 * Which save this host's copy matches is kept in `stateDir`: a start after a run here downloads nothing.
 */
export class NotebookVolumes {
  private readonly fetch: typeof fetch;
  private readonly unsaved: UnsavedMarks;

  constructor(private readonly options: NotebookVolumesOptions) {
    this.fetch = options.fetch ?? fetch;
    this.unsaved = new UnsavedMarks(options.stateDir);
  }

  /**
   * Brings the volume up to the latest save; `kept` when this host's copy is that save already, or newer: a
   * copy whose save failed is saved first, and kept as it is when that fails again (it is the newest). Only
   * over the save it was made from: when another host has saved the notebook's files since, those are newer
   * and restored instead.
   */
  async restore(notebookId: string, volume: string): Promise<'restored' | 'kept' | 'none'> {
    if (await this.unsaved.get(notebookId)) {
      try {
        if ((await this.save(notebookId, volume, { overKnown: true })) === 'saved') return 'kept';
      } catch {
        return 'kept'; // reported by save(); the next stop tries again
      }
    }
    const known = await this.knownSave(notebookId);
    const res = await this.call('GET', notebookId, known ? { 'if-none-match': `"${known}"` } : {});
    if (res.status === 304 || res.status === 404) {
      await res.body?.cancel();
      return res.status === 304 ? 'kept' : 'none';
    }
    if (!res.ok || !res.body)
      throw new Error(`fetching the saved files answered ${res.status}: ${await res.text()}`);
    const owner = await this.owner(volume);
    // Root hands the volume over (a walk, where it was not the user's yet) before the user's own tar replaces
    // its files: a process of this user alive then could swap a folder in it for a link to /etc between root's
    // check and its listing. None is a running notebook's: restore comes before the notebook starts here
    // (SupervisedRuntime.prepareNotebook), and a notebook has one workload at a time, the reconciler stopping
    // the previous one before it starts the next; what is alive is left over, so it goes, or this throws.
    await this.options.users.killProcesses(owner);
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
   * copy is nobody's files any more and the caller removes it. Final, never retried. A failure that may
   * pass (no answer, 5xx, 429) is tried again with backoff; the last one throws NotebookSaveError, once this
   * host has marked the files unsaved and told the control plane, whose owner reads it on the notebook.
   */
  async save(
    notebookId: string,
    volume: string,
    options: { overKnown?: boolean } = {},
  ): Promise<'saved' | 'gone' | 'superseded'> {
    let delay = FIRST_RETRY_DELAY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        const saved = await this.saveOnce(notebookId, volume, options.overKnown === true);
        await this.unsaved.clear(notebookId);
        return saved;
      } catch (err) {
        const failed =
          err instanceof SaveAttemptError ? err : new SaveAttemptError('unreadable', false, String(err));
        if (failed.retryable && attempt < SAVE_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, delay));
          delay *= 2;
          continue;
        }
        const failure = { cause: failed.saveCause, attempts: attempt };
        await this.unsaved.set(notebookId, { ...failure, reported: false });
        await this.reportUnsaved(notebookId);
        throw new NotebookSaveError(failure, failed.message);
      }
    }
  }

  /** Tells the control plane of the saves given up on that it has not heard of yet (never throws). */
  async reportUnsaved(only?: string): Promise<void> {
    for (const { notebookId, mark } of await this.unsaved.unreported()) {
      if (only !== undefined && notebookId !== only) continue;
      const res = await this.call(
        'POST',
        notebookId,
        { 'content-type': 'application/json' },
        JSON.stringify({ cause: mark.cause, attempts: mark.attempts }),
        '/failure',
      ).catch(() => undefined);
      await res?.body?.cancel();
      // 404: deleted, or run elsewhere since: nobody is to be told.
      if (res?.ok || res?.status === 404) await this.unsaved.set(notebookId, { ...mark, reported: true });
    }
  }

  /**
   * One try: the tar streamed to the control plane. Throws SaveAttemptError saying whether to try again.
   * With `overKnown`, only over the save this copy was made from (none: only while none is stored);
   * `superseded` when another was stored since.
   */
  private async saveOnce(
    notebookId: string,
    volume: string,
    overKnown: boolean,
  ): Promise<'saved' | 'gone' | 'superseded'> {
    const known = overKnown ? await this.knownSave(notebookId) : undefined;
    const condition: Record<string, string> = !overKnown
      ? {}
      : known
        ? { 'if-match': `"${known}"` }
        : { 'if-none-match': '*' };
    const owner = await this.owner(volume);
    const dir = this.options.dirs.volumeDir(volume);
    // No process of the user is killed here: root reads nothing in the volume, the user's own tar does, so a
    // link it meets reaches only what the user may read anyway. A save follows the notebook's stop (or comes
    // before its start, from restore), and the removal after a stop kills what is left.
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
        { 'content-type': 'application/x-tar', ...condition },
        Readable.toWeb(tar.stdout),
      );
    } catch (err) {
      await abandonTar();
      throw new SaveAttemptError('unreachable', true, `the control plane did not answer: ${String(err)}`);
    }
    if (res.status !== 201) {
      await abandonTar();
      const answer = await res.text().catch(() => '');
      if (res.status === 409) return 'superseded';
      if (res.status !== 404) throw answerFailure(res.status, answer);
      await rm(this.statePath(notebookId), { force: true });
      return 'gone';
    }
    await exited.catch((err: unknown) => {
      throw new SaveAttemptError('unreadable', false, String(err));
    });
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

  /**
   * Removes all this host keeps of a deleted notebook: its files, its system user and its save marker. Every
   * process of its user goes first (a notebook no longer desired runs nothing legitimately): root's removal
   * walks the user's folders, which a live one could swap for links, and userdel refuses a user still running.
   */
  async forget(notebookId: string): Promise<void> {
    const volume = notebookVolumeName(notebookId);
    const owner = await this.options.users.find(volume);
    if (owner) await this.options.users.killProcesses(owner);
    await this.options.dirs.removeVolume(volume);
    await this.options.users.remove(volume);
    await rm(this.statePath(notebookId), { force: true });
    await this.unsaved.clear(notebookId);
  }

  private owner(volume: string): Promise<WorkloadIdentity> {
    return this.options.users.ensure(volume, this.options.dirs.volumeDir(volume));
  }

  private async call(
    method: string,
    notebookId: string,
    headers: Record<string, string>,
    body?: ReadableStream | string,
    under = '',
  ) {
    const access = await this.options.access();
    if (!access) throw new Error('not registered with a control plane yet');
    const url = `${access.controlPlaneUrl.replace(/\/+$/, '')}/agent/v1/notebooks/${encodeURIComponent(notebookId)}/volume${under}`;
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
