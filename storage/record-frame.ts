import { crc32 } from 'node:zlib';

/**
 * One record of an append-only segment: magic (2) | kind (1) | body length (4) | CRC-32 of kind + body (4) | body,
 * big-endian. The length and the CRC let a reader tell a record torn by a crash (or flipped bits) from a whole one.
 */
export const RECORD_HEADER_BYTES = 11;

/** CRC-32 (IEEE, as zlib and PNG) of the kind byte followed by `body`: a flipped kind is caught too. */
function checksum(kind: number, body: Uint8Array): number {
  return crc32(body, crc32(Uint8Array.of(kind)));
}

export function frameRecord(magic: number, kind: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  out.writeUInt16BE(magic, 0);
  out.writeUInt8(kind, 2);
  out.writeUInt32BE(body.length, 3);
  out.writeUInt32BE(checksum(kind, body), 7);
  out.set(body, RECORD_HEADER_BYTES);
  return out;
}

export interface RecordScan<T> {
  records: T[];
  /** Bytes of whole, valid records from the start; anything after is damaged or torn. */
  goodBytes: number;
  /** Why the scan stopped early, if it did. */
  damage?: string;
}

/**
 * Reads records until the end or the first damaged one (torn, bad magic or checksum, or a body `decode` refuses by
 * returning undefined). Never throws on bad bytes: what was whole before the damage is returned.
 */
export function scanRecords<T>(
  buf: Buffer,
  magic: number,
  decode: (kind: number, body: Buffer) => T | undefined,
): RecordScan<T> {
  const records: T[] = [];
  let offset = 0;
  const stop = (damage: string): RecordScan<T> => ({ records, goodBytes: offset, damage });
  while (offset < buf.length) {
    if (buf.length - offset < RECORD_HEADER_BYTES) return stop(`torn header at byte ${offset}`);
    if (buf.readUInt16BE(offset) !== magic) return stop(`bad magic at byte ${offset}`);
    const kind = buf.readUInt8(offset + 2);
    const length = buf.readUInt32BE(offset + 3);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > buf.length)
      return stop(
        `torn record at byte ${offset} (${length} bytes announced, ${buf.length - offset - RECORD_HEADER_BYTES} present)`,
      );
    const body = buf.subarray(offset + RECORD_HEADER_BYTES, end);
    if (checksum(kind, body) !== buf.readUInt32BE(offset + 7)) return stop(`checksum mismatch at byte ${offset}`);
    const decoded = decode(kind, body);
    if (decoded === undefined) return stop(`malformed record at byte ${offset}`);
    records.push(decoded);
    offset = end;
  }
  return { records, goodBytes: offset };
}
