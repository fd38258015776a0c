import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** One cached model file, keyed by version id in the index. */
export const CacheEntry = z.object({
  sha256: z.string().regex(/^[a-f0-9]{64}$/),
  sizeBytes: z.number().int().nonnegative(),
  /** Unix milliseconds of the last `ensure` that returned this file; drives LRU eviction. */
  lastUsedAt: z.number(),
});
export type CacheEntry = z.infer<typeof CacheEntry>;

const CacheIndexFile = z.object({
  version: z.literal(1),
  entries: z.record(z.string(), CacheEntry),
});

const INDEX_FILE = 'index.json';

/**
 * Reads the index; a missing or unreadable index is an empty cache (the files it does not name are then
 * removed as orphans, and re-downloaded on demand), never a reason for the agent not to start.
 */
export async function readCacheIndex(dir: string): Promise<Map<string, CacheEntry>> {
  let text: string;
  try {
    text = await readFile(join(dir, INDEX_FILE), 'utf8');
  } catch {
    return new Map();
  }
  try {
    const parsed = CacheIndexFile.safeParse(JSON.parse(text));
    return parsed.success ? new Map(Object.entries(parsed.data.entries)) : new Map();
  } catch {
    return new Map();
  }
}

/** Writes the index through a temp file and a rename, so a crash leaves the old index or the new one. */
export async function writeCacheIndex(dir: string, entries: ReadonlyMap<string, CacheEntry>): Promise<void> {
  const body: z.infer<typeof CacheIndexFile> = { version: 1, entries: Object.fromEntries(entries) };
  const temp = join(dir, `.${INDEX_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(body, null, 2)}\n`);
    await rename(temp, join(dir, INDEX_FILE));
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
