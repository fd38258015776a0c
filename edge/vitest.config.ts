import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineProject } from 'vitest/config';

const configPath = fileURLToPath(new URL('../wrangler.toml', import.meta.url));

// Edge tests run inside workerd, the runtime the Worker ships on. They get the Node project's 20 s, not vitest's
// 5 s: the concurrency cases (1,250 calls from 50 callers against a quota) and the cases that wait out a hold
// passed 5 s on CI's loaded two cores; what they check is counts and answers, and where timing matters (a
// refusal "at once") the test asserts it itself.
export default defineProject({
  plugins: [cloudflareTest({ main: './src/index.ts', wrangler: { configPath }, miniflare: { cf: false } })],
  test: { name: 'edge', include: ['test/**/*.test.ts'], testTimeout: 20_000 },
});
