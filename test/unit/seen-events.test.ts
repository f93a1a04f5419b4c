import { describe, expect, it } from 'vitest';
import { SeenEvents } from '../../hub/inspections/seen-events.js';
import { uuidv7 } from '../../protocol/uuid.js';

describe('the dedup index (SeenEvents)', () => {
  it('maps each id to its holder, counts each id once, and stores as one object', () => {
    const seen = new SeenEvents();
    const ids = [...Array.from({ length: 2000 }, () => uuidv7()), '', 'a', 'e1', 'e2', '__proto__', 'constructor'];
    ids.forEach((id, n) => seen.set(id, `holder-${n}`));
    seen.set('e1', 'moved'); // a promoted watch's events move to its inspection
    expect(seen.size).toBe(ids.length);
    expect(seen.get('e1')).toBe('moved');
    expect(seen.get('__proto__')).toBe(`holder-${ids.indexOf('__proto__')}`);
    expect(seen.has('')).toBe(true);
    expect(seen.has('never')).toBe(false);
    expect(seen.get('never')).toBeUndefined();
    expect(new Set(seen.keys())).toEqual(new Set(ids));
    const stored = JSON.parse(JSON.stringify({ seenEvents: seen })) as { seenEvents: Record<string, string> };
    expect(Object.keys(stored.seenEvents)).toHaveLength(ids.length);
    expect(stored.seenEvents.e1).toBe('moved');
    expect(SeenEvents.from(stored.seenEvents)).toEqual(seen);
    expect(SeenEvents.from(undefined).size).toBe(0);
  });

  it('drops what the predicate names and keeps the count right', () => {
    const seen = new SeenEvents();
    for (let i = 0; i < 1000; i += 1) seen.set(`event-${i}`, i % 2 ? 'odd' : 'even');
    expect(seen.deleteWhere((id) => Number(id.slice(6)) % 2 === 1)).toBe(500);
    expect(seen.size).toBe(500);
    expect(seen.get('event-1')).toBeUndefined();
    expect(seen.get('event-2')).toBe('even');
    expect([...seen.keys()].every((id) => Number(id.slice(6)) % 2 === 0)).toBe(true);
    expect(seen.deleteWhere(() => false)).toBe(0);
  });

  it('spreads UUIDv7 ids over its tables, so no one table holds more than a few times its share', () => {
    const seen = new SeenEvents();
    for (let i = 0; i < 256 * 200; i += 1) seen.set(uuidv7(), 'x');
    const sizes = (seen as unknown as { shards: Array<Map<string, string>> }).shards.map((s) => s.size);
    expect(sizes).toHaveLength(256);
    expect(Math.min(...sizes)).toBeGreaterThan(100);
    expect(Math.max(...sizes)).toBeLessThan(400);
  });
});
