#!/usr/bin/env node
// Builds the publishable @meridian/sdk into dist/package (ESM JavaScript plus declarations) and prints its
// path: `npm pack sdk/dist/package` makes the tarball. In the repository the workspaces read the sources.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/package`;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(
  process.execPath,
  [`${root}../node_modules/typescript/bin/tsc`, '-b', `${root}tsconfig.node.json`],
  {
    stdio: 'inherit',
  },
);
await build({
  entryPoints: { index: `${root}src/index.ts`, node: `${root}src/node/index.ts` },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  external: ['node:*'],
  logLevel: 'warning',
});
cpSync(`${root}dist/types`, `${out}/types`, {
  recursive: true,
  filter: (src) => !src.endsWith('.tsbuildinfo'),
});
const own = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const manifest = {
  name: own.name,
  version: own.version,
  description: own.description,
  type: 'module',
  engines: { node: '>=20' },
  exports: {
    '.': { types: './types/index.d.ts', default: './index.js' },
    './node': { types: './types/node/index.d.ts', default: './node.js' },
  },
  sideEffects: false,
};
writeFileSync(`${out}/package.json`, `${JSON.stringify(manifest, null, 2)}\n`);
// npm shows it on the package's page; the quick start in it is tested from the packed tarball.
cpSync(`${root}README.md`, `${out}/README.md`);
console.info(out);
