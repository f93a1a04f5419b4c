import type { Logger } from './logger.js';

/**
 * Clean shutdown for every process: SIGINT/SIGTERM run `close` once and exit 0; a parent that dies (IPC channel
 * closes) is treated the same, so no process outlives the `pdm demo` that started it.
 */
export function onShutdown(logger: Logger, close: () => Promise<void>, graceMs = 5000): void {
  let closing = false;
  const stop = (reason: string): void => {
    if (closing) return;
    closing = true;
    logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      logger.warn({ graceMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    close().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error({ err: error.message }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  if (process.send) process.once('disconnect', () => stop('parent exited'));
}
