/**
 * How the hub's Node process is started: this environment and `HUB_NODE_FLAGS` on node's command line.
 * deploy/systemd/pdm-hub.service sets exactly these (test/unit/hub-runtime-settings.test.ts keeps the two in step),
 * `pdm demo` starts its hub with them, and `npm run bench -- hub.ingest` / `soak.hub` / `load.fleet` measure the hub
 * with them.
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

/**
 * V8 flags Node refuses in NODE_OPTIONS, so they go on node's command line.
 * - `--min-semi-space-size=8`: the young generation is never smaller than 8 MB. V8 starts it at 1 MB and sizes it as
 *   it goes; under a fleet's load many young objects are still alive at a scavenge (messages held for their group
 *   commit) and are copied, and a small young generation means more scavenges. Four alternating pairs of
 *   `npm run bench -- hub.ingest`: p99 134.3 and 208.8 ms against 204 and 260.3 at 15,000 events/s, 217.2 and
 *   339.7 against 342.4 and 569 at 20,000/s; the main thread's cores at 15,000/s 0.76–0.77 against 0.82. It costs up
 *   to 16 MB more of resident memory (the two 8 MB semi-spaces).
 */
export const HUB_NODE_FLAGS: readonly string[] = Object.freeze(['--min-semi-space-size=8']);
