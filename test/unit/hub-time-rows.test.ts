import { describe, expect, it } from 'vitest';
import { TimeRows } from '../../hub/http/time-rows.js';

const times = (rows: TimeRows) => Array.from({ length: rows.size }, (_, i) => rows.time(rows.at(i)));
/** Bytes of one row of width 3: a float64 time and three float32 values. */
const ROW = 8 + 3 * 4;

describe('time rows', () => {
  it('allocates a few rows first and adds storage as rows arrive, keeping them in order', () => {
    const rows = new TimeRows(1000, 3);
    const put = (t: number) => rows.set(rows.push(t), 1, t * 10);
    for (let t = 0; t < 3; t++) put(t);
    expect(rows.bytes).toBe(8 * ROW);
    for (let t = 3; t < 9; t++) put(t);
    expect(rows.bytes).toBe(16 * ROW);
    // Past the first block's 128 rows, whole blocks of 128 are added.
    for (let t = 9; t < 300; t++) put(t);
    expect(rows.bytes).toBe(384 * ROW);
    expect(times(rows)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(Array.from({ length: 300 }, (_, i) => rows.value(rows.at(i), 1))).toEqual(
      Array.from({ length: 300 }, (_, i) => i * 10),
    );
    expect(rows.value(rows.at(299), 0)).toBeNaN();
  });

  it('stops growing at its capacity and then overwrites the oldest rows', () => {
    const rows = new TimeRows(300, 3);
    for (let t = 0; t < 1000; t++) rows.set(rows.push(t), 2, t);
    expect(rows.bytes).toBe(300 * ROW);
    expect(rows.size).toBe(300);
    expect(times(rows)).toEqual(Array.from({ length: 300 }, (_, i) => 700 + i));
    expect(rows.value(rows.at(0), 2)).toBe(700);
    expect(rows.time(rows.last()!)).toBe(999);
  });

  it('forgets a column in every block', () => {
    const rows = new TimeRows(300, 3);
    for (let t = 0; t < 200; t++) {
      const row = rows.push(t);
      rows.set(row, 0, 1);
      rows.set(row, 1, 2);
    }
    rows.clear(0);
    expect(Array.from({ length: 200 }, (_, i) => rows.value(rows.at(i), 0)).every(Number.isNaN)).toBe(true);
    expect(Array.from({ length: 200 }, (_, i) => rows.value(rows.at(i), 1)).every((v) => v === 2)).toBe(true);
  });

  it('never allocates more rows than its capacity, even at first', () => {
    expect(new TimeRows(3, 1).bytes).toBe(3 * (8 + 4));
  });
});
