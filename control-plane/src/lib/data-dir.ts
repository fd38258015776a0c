import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { randomSecret } from './secrets.js';

/**
 * Makes the data dir private to this user: the dir 0700, every file directly in it 0600 and every folder
 * 0700 (a 0700 folder closes everything below it), including what an older version created 0755/0644.
 * main.ts also sets the process umask to 077, so the database's WAL files and stored objects are born private.
 */
export function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) chmodSync(path, 0o700);
    else if (stat.isFile()) chmodSync(path, 0o600);
  }
}

/** A secret from the environment, else one generated once into `file` (0600, in a 0700 folder). */
export function localSecret(file: string, configured: string | undefined, generate = () => randomSecret(32)) {
  if (configured) return configured;
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return readFileSync(file, 'utf8').trim();
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = generate();
  writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
  return secret;
}
