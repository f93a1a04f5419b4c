import type { DocumentAdapter } from './durable-file.js';

/**
 * A document kept in memory as JSON text, so a "reopen" sees exactly what a write stored and nothing shared by
 * reference. For tests (fake timers, no disk) and tools that need a throwaway hub.
 */
export class MemoryDocument<T> implements DocumentAdapter<T> {
  private text: string | null = null;
  writes = 0;
  lastWrittenBytes: number | undefined;

  async read(): Promise<T | null> {
    this.lastWrittenBytes = this.text === null ? undefined : Buffer.byteLength(this.text);
    return this.text === null ? null : (JSON.parse(this.text) as T);
  }

  async write(data: T): Promise<void> {
    this.text = JSON.stringify(data);
    this.lastWrittenBytes = Buffer.byteLength(this.text);
    this.writes += 1;
  }
}
