import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LowSync } from 'lowdb';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isPdmError } from '../../protocol/errors.js';
import { DurableJsonAdapter } from '../../storage/json-adapter.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'pdm-json-'));
const Settings = z.strictObject({ interval: z.number().int().positive() });

describe('the durable lowdb adapter', () => {
  it('reads null for a document not written yet, and lowdb keeps its defaults', () => {
    const db = new LowSync(new DurableJsonAdapter<{ interval: number }>(join(fresh(), 'a', 'settings.json')), {
      interval: 5,
    });
    db.read();
    expect(db.data).toEqual({ interval: 5 });
  });

  it('writes a private file in a private directory, and reads it back through lowdb', () => {
    const dir = join(fresh(), 'agent');
    const path = join(dir, 'settings.json');
    const db = new LowSync(new DurableJsonAdapter(path, { parse: (v) => Settings.parse(v) }), { interval: 5 });
    db.update((d) => (d.interval = 30));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ interval: 30 });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const again = new LowSync(new DurableJsonAdapter(path, { parse: (v) => Settings.parse(v) }), { interval: 5 });
    again.read();
    expect(again.data).toEqual({ interval: 30 });
  });

  it('refuses a file that is not JSON, or that its parser refuses, naming the file', () => {
    const dir = fresh();
    const path = join(dir, 'settings.json');
    const adapter = new DurableJsonAdapter(path, { parse: (v) => Settings.parse(v) });
    for (const content of ['{"interval": 3', '{"interval": -1}', '{"interval": 3, "extra": true}']) {
      writeFileSync(path, content);
      const error = (() => {
        try {
          adapter.read();
        } catch (e) {
          return e;
        }
      })();
      expect(isPdmError(error, 'PDM_ERR_STORE_CORRUPT')).toBe(true);
      expect((error as Error).message).toContain(path);
    }
  });
});
