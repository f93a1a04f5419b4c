import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and bind real ports; two cores are enough to run files in parallel.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
