import type { DocumentAdapter } from './durable-file.js';

/**
 * A document kept in memory as JSON text, so a "reopen" sees exactly what a write stored and nothing shared by
 * reference. For tests (fake timers, no disk) and tools that need a throwaway hub.
 */
export class MemoryDocument<T> implements DocumentAdapter<T> {
  private text: string | null = null;
  writes = 0;

  async read(): Promise<T | null> {
    return this.text === null ? null : (JSON.parse(this.text) as T);
  }

  async write(data: T): Promise<void> {
    this.text = JSON.stringify(data);
    this.writes += 1;
  }
}
