import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One temporary directory for the run, removed at its end (test/support/temp-root.ts).
    globalSetup: ['test/support/temp-root.ts'],
    // People's passwords at scrypt N=2^10, not the default 2^17 (4 s a hash on a loaded CI core), in and out of process.
    setupFiles: ['test/support/fast-scrypt.ts'],
    env: { PDM_HUB_AUTH_PASSWORD_SCRYPT_N: '1024' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and bind real ports; two cores are enough to run files in parallel.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
