import { z } from 'zod';
import { ID_PATTERN } from '../../protocol/topics.js';

export const id = z.string().regex(ID_PATTERN, 'expected an id of 1-64 characters [A-Za-z0-9._-]');
export const port = z.number().int().min(0).max(65535);
export const positive = z.number().positive();

export const LogSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Where JSON log lines go: `stdout` or a file path. */
  file: z.string().default('stdout'),
});
