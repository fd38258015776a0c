import { defineConfig } from 'vitest/config';

// One root run covers every package: Node projects run in Node, edge/ runs inside workerd.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: [
            'protocol/src/**/*.test.ts',
            'control-plane/src/**/*.test.ts',
            'control-plane/testing/**/*.test.ts',
            'gpu-agent/src/**/*.test.ts',
            'cli/src/**/*.test.ts',
            // The dashboard's components, rendered to markup; its pages are tested in Chromium (test/).
            'dashboard/src/**/*.test.{ts,tsx}',
          ],
          environment: 'node',
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      './edge/vitest.config.ts',
      './sdk/vitest.config.ts',
    ],
  },
});
