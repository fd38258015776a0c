#!/usr/bin/env node
// Bundles the CLI, the SDK included, into one ESM file (default dist/meridian.mjs) that Node runs without
// tsx: what an installed package runs, and what tests spawn (it starts faster than compiling on the fly).
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = process.argv[2] ?? `${root}dist/meridian.mjs`;
await build({
  entryPoints: [`${root}src/run.ts`],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The CLI's own dependencies stay packages; only our SDK is inlined.
  external: ['commander', 'cli-progress'],
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
console.info(outfile);
