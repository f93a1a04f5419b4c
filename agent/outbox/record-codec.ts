import { frameRecord, scanRecords, type RecordScan } from '../../storage/record-frame.js';
import { PRIORITIES, type OutboxMessage, type Priority } from './types.js';

/**
 * Outbox records in storage/'s checksummed frames (magic "PD", kind 1 append or 2 removal):
 *   append body: seq (f64) | priority (1) | qos (1) | retain (1) | topic length (2) | topic | payload
 *   remove body: seq (f64) | reason (1)
 */
const MAGIC = 0x5044; // "PD"
const KIND_APPEND = 1;
const KIND_REMOVE = 2;
const REASONS = ['acked', 'dropped', 'quarantined'] as const;

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
  return frameRecord(MAGIC, KIND_APPEND, body);
}

export function encodeRemove(seq: number, reason: (typeof REASONS)[number]): Buffer {
  const body = Buffer.allocUnsafe(9);
  body.writeDoubleBE(seq, 0);
  body.writeUInt8(REASONS.indexOf(reason), 8);
  return frameRecord(MAGIC, KIND_REMOVE, body);
}

export type DecodedRecord =
  | { kind: 'append'; seq: number; message: OutboxMessage }
  | { kind: 'remove'; seq: number; reason: (typeof REASONS)[number] };

export type SegmentScan = RecordScan<DecodedRecord>;

/** Reads records until the end or the first damaged one. Never throws on bad bytes. */
export function scanSegment(buf: Buffer): SegmentScan {
  return scanRecords(buf, MAGIC, decodeBody);
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
