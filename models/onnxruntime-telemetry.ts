/**
 * Imported for its effect, before anything that loads onnxruntime-node.
 *
 * onnxruntime-node's Linux and macOS builds (1.30) carry Microsoft's 1DS telemetry: when the library initialises it
 * starts an uploader thread, keeps a device id and an SQLite event cache under
 * `$XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime/` (`~/.cache/...`, the `onnxruntime.db-shm` mapped into the
 * process) and sends process, session and model events over HTTPS. A pdm agent sits on a plant network and should not
 * call out to a third party on its own, and the uploader costs it a thread and about 3 MB of resident memory (a process
 * that loads the library and creates one session for the shipped model: 84.5 MB with it, 80.5 MB without). So pdm opts
 * out with the library's own switch, `ORT_DISABLE_TELEMETRY=1` (read once, when the library initialises), unless the
 * operator set the variable (to anything, `0` included) before starting pdm.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export {};
