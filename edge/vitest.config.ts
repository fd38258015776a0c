import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineProject } from 'vitest/config';

const configPath = fileURLToPath(new URL('../wrangler.toml', import.meta.url));

// Edge tests run inside workerd, the runtime the Worker ships on.
export default defineProject({
  plugins: [cloudflareTest({ main: './src/index.ts', wrangler: { configPath }, miniflare: { cf: false } })],
  test: { name: 'edge', include: ['test/**/*.test.ts'] },
});
