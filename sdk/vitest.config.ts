import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineProject } from 'vitest/config';

// The SDK's core inside workerd, the Workers runtime, against a control plane the global setup starts.
export default defineProject({
  plugins: [cloudflareTest({ miniflare: { compatibilityDate: '2026-04-01', cf: false } })],
  test: {
    name: 'sdk-workerd',
    include: ['test/**/*.test.ts'],
    globalSetup: ['../test/helpers/sdk-workerd-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
