/**
 * How the agent's Node process is started on a small device. deploy/systemd/pdm-agent.service sets exactly these
 * (test/unit/agent-runtime-settings.test.ts keeps the two in step) and `npm run bench -- soak.agent` measures the
 * agent with them. They trade a few more, shorter garbage collections for a smaller and flatter resident set:
 * - `--max-semi-space-size=1`: V8's young generation is 2 × 16 MB by default on 64-bit; at 1 MB the agent's short-lived
 *   buffers (sample blocks, encoded messages) are scavenged sooner and the heap stays small.
 * - `--v8-pool-size=1`: one V8 background thread for GC and compilation (each thread costs a stack and malloc state).
 * - `--max-old-space-size=96`: below 128 MB V8 grows the old generation by a smaller factor between major GCs, so
 *   garbage promoted under load is collected sooner (the soak's growth from minute 10 fell from 13-25 % to 5-7 %).
 *   The agent's live heap is ~19 MB; undelivered outbox records (kept in memory too, ~300 bytes of heap each besides
 *   their payload) fit a default 64 MB outbox. Raise it with `outbox.maxBytes` far beyond that.
 * - `MALLOC_ARENA_MAX=2`: glibc otherwise gives each thread (libuv's pool, V8's, onnxruntime's) its own malloc arena.
 * - `MALLOC_MMAP_THRESHOLD_=131072`, `MALLOC_TRIM_THRESHOLD_=131072`: glibc's own starting values, but fixed: by default
 *   every freed large block raises both (up to 32 and 64 MB), after which freed memory stays in the process.
 * - `--expose-gc`: lets the agent run a full garbage collection every HEAP_TRIM_EVERY_WINDOWS windows
 *   (agent/heap-trim.ts says why); without it the agent simply does not.
 * - `ORT_DISABLE_TELEMETRY=1`: no Microsoft telemetry uploader in onnxruntime (a thread, an SQLite event cache under
 *   ~/.cache, HTTPS uploads; about 3 MB of the agent's RSS). pdm sets it by default anyway before loading onnxruntime
 *   (models/onnxruntime-telemetry.ts); the unit states it so an operator sees it.
 * They cannot be applied from inside a running process (V8 sizes its heap at start), hence environment variables.
 */
export const AGENT_RUNTIME_ENV: Readonly<Record<string, string>> = Object.freeze({
  NODE_OPTIONS: '--max-semi-space-size=1 --v8-pool-size=1 --max-old-space-size=96 --expose-gc',
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
  ORT_DISABLE_TELEMETRY: '1',
});

/** Scored windows between the agent's forced full garbage collections: 5 minutes at the real input rate of 2 windows/s. */
export const HEAP_TRIM_EVERY_WINDOWS = 600;

/**
 * V8 flags Node does not accept in NODE_OPTIONS: the systemd unit puts them on node's command line (its ExecStart,
 * kept equal by test/unit/agent-runtime-settings.test.ts) and `npm run bench -- soak.agent` starts the agent with them.
 * - `--optimize-for-size`: V8's own memory-over-speed mode (smaller heap growth steps, less aggressive inlining and
 *   code caching).
 */
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--optimize-for-size']);
