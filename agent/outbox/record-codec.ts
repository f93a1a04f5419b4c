import { PRIORITIES, type OutboxMessage, type Priority } from './types.js';

/**
 * On-disk record: magic (2) | kind (1) | body length (4) | CRC-32 of kind+body (4) | body.
 *   append body: seq (f64) | priority (1) | qos (1) | retain (1) | topic length (2) | topic | payload
 *   remove body: seq (f64) | reason (1)
 * The CRC and the length let a reader tell a record torn by a crash (or flipped bits) from a whole one.
 */
export const HEADER_BYTES = 11;
const MAGIC = 0x5044; // "PD"
const KIND_APPEND = 1;
const KIND_REMOVE = 2;
const REASONS = ['acked', 'dropped', 'quarantined'] as const;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE), the one zlib and PNG use. */
export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function frame(kind: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out.writeUInt16BE(MAGIC, 0);
  out.writeUInt8(kind, 2);
  out.writeUInt32BE(body.length, 3);
  body.copy(out, HEADER_BYTES);
  // The CRC covers the kind byte too, so a flipped kind is caught.
  out.writeUInt32BE(crc32Kind(kind, out, HEADER_BYTES, out.length), 7);
  return out;
}

function crc32Kind(kind: number, buf: Uint8Array, start: number, end: number): number {
  let c = CRC_TABLE[(0xffffffff ^ kind) & 0xff]! ^ (0xffffffff >>> 8);
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function encodeAppend(seq: number, message: OutboxMessage): Buffer {
  const topic = Buffer.from(message.topic, 'utf8');
  const body = Buffer.allocUnsafe(13 + topic.length + message.payload.length);
  body.writeDoubleBE(seq, 0);
  body.writeUInt8(PRIORITIES.indexOf(message.priority), 8);
  body.writeUInt8(message.qos, 9);
  body.writeUInt8(message.retain ? 1 : 0, 10);
  body.writeUInt16BE(topic.length, 11);
  topic.copy(body, 13);
  message.payload.copy(body, 13 + topic.length);
  return frame(KIND_APPEND, body);
}

export function encodeRemove(seq: number, reason: (typeof REASONS)[number]): Buffer {
  const body = Buffer.allocUnsafe(9);
  body.writeDoubleBE(seq, 0);
  body.writeUInt8(REASONS.indexOf(reason), 8);
  return frame(KIND_REMOVE, body);
}

export type DecodedRecord =
  | { kind: 'append'; seq: number; message: OutboxMessage }
  | { kind: 'remove'; seq: number; reason: (typeof REASONS)[number] };

export interface SegmentScan {
  records: DecodedRecord[];
  /** Bytes of whole, valid records from the start; anything after is damaged or torn. */
  goodBytes: number;
  /** Why the scan stopped early, if it did. */
  damage?: string;
}

/** Reads records until the end or the first damaged one. Never throws on bad bytes. */
export function scanSegment(buf: Buffer): SegmentScan {
  const records: DecodedRecord[] = [];
  let offset = 0;
  const stop = (damage: string): SegmentScan => ({ records, goodBytes: offset, damage });
  while (offset < buf.length) {
    if (buf.length - offset < HEADER_BYTES) return stop(`torn header at byte ${offset}`);
    if (buf.readUInt16BE(offset) !== MAGIC) return stop(`bad magic at byte ${offset}`);
    const kind = buf.readUInt8(offset + 2);
    const length = buf.readUInt32BE(offset + 3);
    const end = offset + HEADER_BYTES + length;
    if (end > buf.length)
      return stop(
        `torn record at byte ${offset} (${length} bytes announced, ${buf.length - offset - HEADER_BYTES} present)`,
      );
    if (crc32Kind(kind, buf, offset + HEADER_BYTES, end) !== buf.readUInt32BE(offset + 7))
      return stop(`checksum mismatch at byte ${offset}`);
    const body = buf.subarray(offset + HEADER_BYTES, end);
    const decoded = decodeBody(kind, body);
    if (!decoded) return stop(`malformed record at byte ${offset}`);
    records.push(decoded);
    offset = end;
  }
  return { records, goodBytes: offset };
}

function decodeBody(kind: number, body: Buffer): DecodedRecord | undefined {
  if (body.length < 9) return undefined;
  const seq = body.readDoubleBE(0);
  if (!Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (kind === KIND_REMOVE) {
    const reason = REASONS[body.readUInt8(8)];
    return reason ? { kind: 'remove', seq, reason } : undefined;
  }
  if (kind !== KIND_APPEND || body.length < 13) return undefined;
  const priority: Priority | undefined = PRIORITIES[body.readUInt8(8)];
  const qos = body.readUInt8(9);
  const topicLength = body.readUInt16BE(11);
  if (!priority || (qos !== 0 && qos !== 1) || 13 + topicLength > body.length) return undefined;
  return {
    kind: 'append',
    seq,
    message: {
      priority,
      qos,
      retain: body.readUInt8(10) === 1,
      topic: body.toString('utf8', 13, 13 + topicLength),
      // Copy: the segment buffer is dropped after loading.
      payload: Buffer.from(body.subarray(13 + topicLength)),
    },
  };
}
