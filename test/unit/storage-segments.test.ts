import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { nodeFileOps } from '../../storage/file-ops.js';
import { frameRecord, RECORD_HEADER_BYTES, scanRecords } from '../../storage/record-frame.js';
import { listSegmentFiles, segmentName } from '../../storage/segment-files.js';

const MAGIC = 0x5a5a;
const text = (kind: number, body: Buffer) => (kind === 1 ? body.toString() : undefined);

describe('checksummed records', () => {
  it('frames magic, kind, length and a CRC-32 over kind and body, and reads them back', () => {
    const record = frameRecord(MAGIC, 1, Buffer.from('123456789'));
    expect(record.readUInt16BE(0)).toBe(MAGIC);
    expect(record.readUInt8(2)).toBe(1);
    expect(record.readUInt32BE(3)).toBe(9);
    expect(record.readUInt32BE(7)).toBe(crc32(Buffer.from('\x01123456789', 'latin1')));
    expect(record.length).toBe(RECORD_HEADER_BYTES + 9);
    const log = Buffer.concat(['a', 'bb', '', 'ccc'].map((s) => frameRecord(MAGIC, 1, Buffer.from(s))));
    expect(scanRecords(log, MAGIC, text)).toEqual({ records: ['a', 'bb', '', 'ccc'], goodBytes: log.length });
  });

  it('stops at a torn tail, a flipped bit, a wrong magic or a body the reader refuses, keeping what was whole', () => {
    const whole = Buffer.concat([frameRecord(MAGIC, 1, Buffer.from('one')), frameRecord(MAGIC, 1, Buffer.from('two'))]);
    const first = RECORD_HEADER_BYTES + 3;
    const cases: Array<[Buffer, RegExp]> = [
      [whole.subarray(0, whole.length - 1), /^torn record at byte 14/],
      [whole.subarray(0, first + 5), /^torn header at byte 14/],
      [Buffer.concat([whole.subarray(0, first), frameRecord(0x1111, 1, Buffer.from('two'))]), /^bad magic at byte 14/],
      [Buffer.concat([whole.subarray(0, first), frameRecord(MAGIC, 2, Buffer.from('two'))]), /^malformed record/],
    ];
    const flipped = Buffer.from(whole);
    flipped[first + RECORD_HEADER_BYTES + 1]! ^= 0x04;
    cases.push([flipped, /^checksum mismatch at byte 14/]);
    const kindFlipped = Buffer.from(whole);
    kindFlipped[first + 2]! ^= 0x03; // kind 1 → 2: the CRC covers the kind too
    cases.push([kindFlipped, /^checksum mismatch at byte 14/]);
    for (const [buf, damage] of cases) {
      const scan = scanRecords(buf, MAGIC, text);
      expect(scan.records).toEqual(['one']);
      expect(scan.goodBytes).toBe(first);
      expect(scan.damage).toMatch(damage);
    }
  });
});

describe('segment files', () => {
  it("lists a directory's segments oldest first, makes a missing directory and leaves other files alone", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pdm-segments-')), 'log');
    expect(await listSegmentFiles(nodeFileOps, dir)).toEqual([]);
    for (const no of [12, 3, 100]) writeFileSync(join(dir, segmentName(no)), '');
    writeFileSync(join(dir, 'quarantine.jsonl'), '');
    writeFileSync(join(dir, 'seg-12.log'), '');
    expect(await listSegmentFiles(nodeFileOps, dir)).toEqual(
      [3, 12, 100].map((no) => ({ no, path: join(dir, `seg-${String(no).padStart(10, '0')}.log`) })),
    );
  });
});
