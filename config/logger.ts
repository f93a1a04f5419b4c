import { pino, type Logger } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line, however deep a caller nests them. */
const REDACT = ['password', 'secret', 'token', 'authorization', '*.password', '*.secret', '*.token', '*.authorization'];

/**
 * The root logger of a process; components take `logger.child({ component })`. JSON lines, to stdout or a file.
 * A file destination is written synchronously so the last lines before a crash are not lost.
 */
export function createLogger(opts: { name: string; level: string; file?: string }): Logger {
  const destination =
    !opts.file || opts.file === 'stdout'
      ? pino.destination({ dest: 1, sync: false })
      : pino.destination({ dest: opts.file, sync: true, mkdir: true });
  return pino(
    { name: opts.name, level: opts.level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } },
    destination,
  );
}
