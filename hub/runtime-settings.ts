/**
 * How the hub's Node process is started. deploy/systemd/pdm-hub.service sets exactly these
 * (test/unit/hub-runtime-settings.test.ts keeps the two in step), `pdm demo` starts its hub with them, and
 * `npm run bench -- soak.hub` / `load.fleet` measure the hub with them.
 * - `--max-old-space-size=1536`: V8 lets the old generation grow between major GCs by a factor that rises with the
 *   heap limit: 4× at the default limit (about 4 GB on a 64-bit machine with this much memory), about 1.8× at 1.5 GB.
 *   With the default, under bursts of QoS 1 traffic the hub's heap swung from ~45 MB live to 150-165 MB before a
 *   collection and the resident set followed that high-water mark (350-420 MB, still creeping up an hour in). At
 *   1.5 GB (also tried: 1 GB, 512 MB, which do the same at more GC work) the heap peaks at ~80 MB and the resident
 *   set stays at ~290 MB, flat after warm-up (README, "Results: reliability and scale").
 *   The limit is a real ceiling: the soak's live heap is ~45 MB; what grows with a bigger fleet is the dedup index
 *   (about 115 bytes per event received within store.dedupRetentionHours) and the open inspections. A hub that
 *   needs more raises it; past the limit V8 aborts the process and systemd restarts it, losing nothing acknowledged.
 * They cannot be applied from inside a running process (V8 sizes its heap at start), hence environment variables.
 */
export const HUB_RUNTIME_ENV: Readonly<Record<string, string>> = Object.freeze({
  NODE_OPTIONS: '--max-old-space-size=1536',
});
