/**
 * How the hub's Node process is started: this environment, and HUB_NODE_FLAGS on node's command line. The systemd
 * unit sets exactly these (a unit test keeps the two in step), and `pdm demo` and the hub benches use them.
 */

/**
 * `--max-old-space-size=1536`: V8's growth factor between major GCs falls with a lower heap limit, which keeps the
 * hub's resident set flat under bursts; past the limit V8 aborts and systemd restarts it, losing nothing acknowledged.
 */
export const HUB_RUNTIME_ENV: Readonly<Record<string, string>> = Object.freeze({
  NODE_OPTIONS: '--max-old-space-size=1536',
});

/**
 * `--min-semi-space-size=8` (refused in NODE_OPTIONS): messages held for their group commit survive scavenges, and a
 * bigger young generation scavenges, and copies them, less often; it costs up to 16 MB of resident memory.
 */
export const HUB_NODE_FLAGS: readonly string[] = Object.freeze(['--min-semi-space-size=8']);
