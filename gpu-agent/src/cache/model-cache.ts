import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type CacheEntry, readCacheIndex, writeCacheIndex } from './cache-index.js';
import { type DownloadProgress, downloadVerified, hashFile, type ModelSource } from './download.js';
import { ModelCacheError } from './errors.js';

const VERSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const SHA256 = /^[a-f0-9]{64}$/;

export interface ModelCacheOptions {
  /** Bytes the cached files may take together, downloads in progress included. */
  budgetBytes: number;
  now?: () => number;
  fetch?: typeof fetch;
}

export interface EnsureOptions {
  /** Called as bytes arrive, only when the file is downloaded (not for a verified cache hit). */
  onProgress?: (progress: DownloadProgress) => void;
}

/** A cached model as the agent reports it. */
export interface CachedModel extends CacheEntry {
  versionId: string;
  pinned: boolean;
}

type Listeners = Set<(progress: DownloadProgress) => void>;

/**
 * Model files on local disk, one per version, fetched through signed URLs. Layout under `dir`:
 * `files/<versionId>`, `tmp/` (downloads in progress, cleared on open) and `index.json` (size, sha256 and
 * last use of each file). One process owns a directory. A file is returned only after its size and sha256
 * matched: right after download, and on its first use in each process (so corruption on disk between runs
 * is caught and the file fetched again). Least recently used files are evicted past the budget; pinned
 * versions (loaded by a runtime) never are.
 */
export class ModelCache {
  readonly dir: string;
  private readonly budgetBytes: number;
  private readonly now: () => number;
  private readonly fetchImpl: typeof fetch | undefined;
  private entries = new Map<string, CacheEntry>();
  /** Versions whose file was hashed (or downloaded) by this process. */
  private readonly verified = new Set<string>();
  private readonly pins = new Map<string, number>();
  private readonly inFlight = new Map<string, { promise: Promise<string>; listeners: Listeners }>();
  /** Bytes promised to downloads in progress, counted against the budget before they land. */
  private readonly reserved = new Map<string, number>();
  private opened: Promise<void> | undefined;
  private indexWrite: Promise<void> = Promise.resolve();

  constructor(dir: string, options: ModelCacheOptions) {
    this.dir = dir;
    this.budgetBytes = options.budgetBytes;
    this.now = options.now ?? Date.now;
    this.fetchImpl = options.fetch;
  }

  /**
   * The path of `versionId`'s verified file, downloading it first if needed. Concurrent calls for one
   * version share a single download (and the first caller's source).
   */
  async ensure(versionId: string, source: ModelSource, options: EnsureOptions = {}): Promise<string> {
    if (!VERSION_ID.test(versionId)) {
      throw new ModelCacheError('invalid', `Invalid version id ${JSON.stringify(versionId)}`);
    }
    if (!SHA256.test(source.sha256) || !Number.isSafeInteger(source.sizeBytes) || source.sizeBytes < 0) {
      throw new ModelCacheError(
        'invalid',
        'sha256 must be 64 lowercase hex digits and sizeBytes a byte count',
      );
    }
    await this.open();
    const running = this.inFlight.get(versionId);
    if (running) {
      if (options.onProgress) running.listeners.add(options.onProgress);
      return running.promise;
    }
    const listeners: Listeners = new Set(options.onProgress ? [options.onProgress] : []);
    const promise = this.load(versionId, source, listeners).finally(() => this.inFlight.delete(versionId));
    this.inFlight.set(versionId, { promise, listeners });
    return promise;
  }

  /** Protects a version from eviction until as many `unpin` calls; may come before `ensure`. */
  pin(versionId: string): void {
    this.pins.set(versionId, (this.pins.get(versionId) ?? 0) + 1);
  }

  unpin(versionId: string): void {
    const count = this.pins.get(versionId) ?? 0;
    if (count <= 1) this.pins.delete(versionId);
    else this.pins.set(versionId, count - 1);
  }

  /** What is cached now, least recently used first. */
  async list(): Promise<CachedModel[]> {
    await this.open();
    return [...this.entries]
      .map(([versionId, entry]) => ({ versionId, ...entry, pinned: this.pins.has(versionId) }))
      .sort((a, b) => a.lastUsedAt - b.lastUsedAt || a.versionId.localeCompare(b.versionId));
  }

  private filePath(versionId: string): string {
    return join(this.dir, 'files', versionId);
  }

  private open(): Promise<void> {
    // A failed open (say, a permission error) is retried by the next call rather than remembered.
    this.opened ??= this.recover().catch((err: unknown) => {
      this.opened = undefined;
      throw err;
    });
    return this.opened;
  }

  /** Loads the index and makes it agree with the disk: no leftover temp files, no unindexed files. */
  private async recover(): Promise<void> {
    await rm(join(this.dir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(this.dir, 'tmp'), { recursive: true });
    await mkdir(join(this.dir, 'files'), { recursive: true });
    const indexed = await readCacheIndex(this.dir);
    for (const [versionId, entry] of indexed) {
      const size = await stat(this.filePath(versionId)).then(
        (s) => s.size,
        () => -1,
      );
      if (VERSION_ID.test(versionId) && size === entry.sizeBytes) this.entries.set(versionId, entry);
    }
    for (const name of await readdir(join(this.dir, 'files'))) {
      // A file renamed into place just before a crash, before the index named it: fetched again on demand.
      if (!this.entries.has(name)) await rm(join(this.dir, 'files', name), { recursive: true, force: true });
    }
    await this.saveIndex();
  }

  private async load(versionId: string, source: ModelSource, listeners: Listeners): Promise<string> {
    const path = this.filePath(versionId);
    const entry = this.entries.get(versionId);
    if (entry) {
      if (await this.isIntact(versionId, entry, source)) {
        entry.lastUsedAt = this.now();
        await this.saveIndex();
        return path;
      }
      this.entries.delete(versionId);
      this.verified.delete(versionId);
      await rm(path, { force: true });
      await this.saveIndex();
    }
    await this.reserve(versionId, source.sizeBytes);
    try {
      const temp = join(this.dir, 'tmp', `${versionId}.${randomBytes(6).toString('hex')}.part`);
      await downloadVerified(source, temp, {
        fetch: this.fetchImpl,
        onProgress: (progress) => {
          for (const listener of listeners) {
            try {
              listener(progress);
            } catch {
              // A reporting callback must not fail the download other callers are waiting on.
            }
          }
        },
      });
      await rename(temp, path);
      this.entries.set(versionId, {
        sha256: source.sha256,
        sizeBytes: source.sizeBytes,
        lastUsedAt: this.now(),
      });
      this.verified.add(versionId);
      await this.saveIndex();
      return path;
    } finally {
      this.reserved.delete(versionId);
    }
  }

  /** Size always; sha256 once per process. A cached file of another sha256 (the source changed) is stale. */
  private async isIntact(versionId: string, entry: CacheEntry, source: ModelSource): Promise<boolean> {
    if (entry.sha256 !== source.sha256 || entry.sizeBytes !== source.sizeBytes) return false;
    const path = this.filePath(versionId);
    const size = await stat(path).then(
      (s) => (s.isFile() ? s.size : -1),
      () => -1,
    );
    if (size !== entry.sizeBytes) return false;
    if (this.verified.has(versionId)) return true;
    if ((await hashFile(path)) !== entry.sha256) return false;
    this.verified.add(versionId);
    return true;
  }

  /**
   * Counts `sizeBytes` against the budget, evicting least recently used files that are neither pinned nor
   * in use by another `ensure`. Decides synchronously (so two downloads cannot both spend the same room) and
   * evicts nothing when even evicting everything allowed would not make room.
   */
  private async reserve(versionId: string, sizeBytes: number): Promise<void> {
    let used = 0;
    for (const entry of this.entries.values()) used += entry.sizeBytes;
    for (const bytes of this.reserved.values()) used += bytes;
    const victims: string[] = [];
    if (used + sizeBytes > this.budgetBytes) {
      const evictable = [...this.entries]
        .filter(([id]) => !this.pins.has(id) && !this.inFlight.has(id))
        .sort(([aId, a], [bId, b]) => a.lastUsedAt - b.lastUsedAt || aId.localeCompare(bId));
      for (const [id, entry] of evictable) {
        if (used + sizeBytes <= this.budgetBytes) break;
        victims.push(id);
        used -= entry.sizeBytes;
      }
      if (used + sizeBytes > this.budgetBytes) {
        throw new ModelCacheError(
          'budget',
          `Model ${versionId} needs ${sizeBytes} bytes but only ${Math.max(0, this.budgetBytes - used)} of the ` +
            `${this.budgetBytes}-byte cache budget can be made available: the rest holds pinned models or downloads in progress`,
        );
      }
    }
    for (const id of victims) {
      this.entries.delete(id);
      this.verified.delete(id);
    }
    this.reserved.set(versionId, sizeBytes);
    if (victims.length === 0) return;
    try {
      await Promise.all(victims.map((id) => rm(this.filePath(id), { force: true })));
      await this.saveIndex();
    } catch (err) {
      this.reserved.delete(versionId);
      throw err;
    }
  }

  /** Writes the index after any write already queued, so writes never interleave. */
  private saveIndex(): Promise<void> {
    const write = this.indexWrite.then(() => writeCacheIndex(this.dir, this.entries));
    this.indexWrite = write.catch(() => undefined);
    return write;
  }
}
