import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TokenStore, Tokens, UploadCheckpoint } from '@meridian/sdk';

/** One server the user works with: where it is and the login kept for it. */
export interface Profile {
  apiUrl: string;
  edgeUrl?: string;
  email?: string;
  tokens?: Tokens;
}

interface CredentialsFile {
  profiles: Record<string, Profile>;
}

/** `$MERIDIAN_CONFIG_DIR`, else `$XDG_CONFIG_HOME/meridian`, else `~/.config/meridian`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MERIDIAN_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'meridian');
}

const LOCK_WAIT_MS = 15_000;
const LOCK_STALE_MS = 30_000;

/**
 * The credentials file (mode 0600 in a 0700 directory), read and written under a lock file so that two
 * processes refreshing one login at once never both spend the same refresh token (which would revoke it).
 */
export class Credentials {
  private held = false;

  constructor(readonly dir: string) {}

  private get file() {
    return join(this.dir, 'credentials.json');
  }

  async read(): Promise<CredentialsFile> {
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as Partial<CredentialsFile>;
      return { profiles: parsed.profiles ?? {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
      throw new Error(`Cannot read ${this.file}: ${(err as Error).message}`);
    }
  }

  async profile(name: string): Promise<Profile | undefined> {
    return (await this.read()).profiles[name];
  }

  /** Changes one profile (undefined removes it) under the lock. */
  async update(name: string, change: (current: Profile | undefined) => Profile | undefined): Promise<void> {
    await this.locked(async () => {
      const data = await this.read();
      const next = change(data.profiles[name]);
      if (next) data.profiles[name] = next;
      else delete data.profiles[name];
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const temp = `${this.file}.${process.pid}.tmp`;
      await writeFile(temp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
      await rename(temp, this.file);
    });
  }

  /** Runs `work` holding the lock file (re-entrant within this process). */
  async locked<T>(work: () => Promise<T>): Promise<T> {
    if (this.held) return work();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const lock = join(this.dir, 'credentials.lock');
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        await writeFile(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const age = await stat(lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        // A holder that died leaves its lock behind; nobody holds it this long on purpose.
        if (age > LOCK_STALE_MS) await rm(lock, { force: true });
        else if (Date.now() > deadline) throw new Error(`Timed out waiting for ${lock}`);
        else await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
      }
    }
    this.held = true;
    try {
      return await work();
    } finally {
      this.held = false;
      await rm(lock, { force: true });
    }
  }

  /** The login of one profile, as the SDK's TokenStore. */
  tokenStore(name: string): TokenStore {
    return {
      load: async () => (await this.profile(name))?.tokens,
      save: (tokens) =>
        this.update(name, (current) => {
          const base = current ?? { apiUrl: '' };
          const { tokens: _old, ...rest } = base;
          return tokens ? { ...rest, tokens } : rest;
        }),
      exclusive: (work) => this.locked(work),
    };
  }
}

/** Multipart uploads in progress, kept so that `models push` run again continues where it stopped. */
export class UploadCheckpoints {
  constructor(private readonly dir: string) {}

  private file(key: string) {
    return join(this.dir, 'uploads', `${key}.json`);
  }

  async load(key: string): Promise<UploadCheckpoint | undefined> {
    try {
      return JSON.parse(await readFile(this.file(key), 'utf8')) as UploadCheckpoint;
    } catch {
      return undefined;
    }
  }

  async save(key: string, checkpoint: UploadCheckpoint): Promise<void> {
    await mkdir(join(this.dir, 'uploads'), { recursive: true, mode: 0o700 });
    await writeFile(this.file(key), JSON.stringify(checkpoint), { mode: 0o600 });
  }

  async remove(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
}
