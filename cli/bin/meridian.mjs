#!/usr/bin/env node
// The `meridian` command. An installed package runs its bundle; in the repository, where the sources are,
// tsx compiles them on the fly so that an edit shows at once.
import { existsSync } from 'node:fs';

const source = new URL('../src/run.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/meridian.mjs', import.meta.url).href);
}
