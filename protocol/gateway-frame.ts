import { endianness } from 'node:os';
import { PdmError } from './errors.js';
import type { SampleBlock } from './samples.js';

/**
 * The sensor-gateway wire frame: how a data-acquisition box beside the machine ships raw samples over MQTT. Binary,
 * little-endian, float32 samples (what such boxes send: half the bytes of float64, far finer than any accelerometer):
 *
 *   0  "PDMF"  magic          8  u32 sequence (per machine, wraps)      28 u32 samples per channel
 *   4  u8 version (1)         12 f64 t0, epoch ms                       32 per channel: u8 name length, name (UTF-8)
 *   5  u8 channel count       20 f64 rate in Hz                         …  zero padding to a multiple of 4, then each
 *   6  u16 reserved (0)                                                    channel's samples, in that order
 */
const MAGIC = 0x46444d50; // "PDMF" read as a little-endian u32
const VERSION = 1;
const HEADER = 32;
const LITTLE_ENDIAN = endianness() === 'LE';
/** One frame carries at most this many samples per channel (10 s at 25.6 kHz); anything larger is refused. */
export const MAX_FRAME_SAMPLES = 256_000;

export function encodeFrame(block: SampleBlock, sequence: number): Buffer {
  const names = Object.keys(block.channels);
  const n = names.length ? block.channels[names[0]!]!.length : 0;
  const nameBytes = names.map((name) => Buffer.from(name, 'utf8'));
  const namesLength = nameBytes.reduce((sum, b) => sum + 1 + b.length, 0);
  const dataOffset = HEADER + namesLength + ((4 - ((HEADER + namesLength) % 4)) % 4);
  const frame = Buffer.alloc(dataOffset + names.length * n * 4);
  frame.writeUInt32LE(MAGIC, 0);
  frame.writeUInt8(VERSION, 4);
  frame.writeUInt8(names.length, 5);
  frame.writeUInt32LE(sequence >>> 0, 8);
  frame.writeDoubleLE(block.t0, 12);
  frame.writeDoubleLE(block.rateHz, 20);
  frame.writeUInt32LE(n, 28);
  let offset = HEADER;
  for (const bytes of nameBytes) {
    frame.writeUInt8(bytes.length, offset);
    bytes.copy(frame, offset + 1);
    offset += 1 + bytes.length;
  }
  names.forEach((name, c) => {
    const data = block.channels[name]!;
    if (data.length !== n)
      throw new PdmError(
        'PDM_ERR_SOURCE',
        `gateway frame: channel "${name}" has ${data.length} samples, "${names[0]}" has ${n}`,
      );
    const base = dataOffset + c * n * 4;
    // Bulk float64 → float32 through a typed view (the frame is unpooled, so aligned); byte-wise on big-endian hosts.
    if (LITTLE_ENDIAN) new Float32Array(frame.buffer, frame.byteOffset + base, n).set(data);
    else for (let i = 0; i < n; i++) frame.writeFloatLE(data[i]!, base + i * 4);
  });
  return frame;
}

export interface DecodedFrame {
  sequence: number;
  block: SampleBlock;
}

/** Decodes a frame; a malformed one throws PDM_ERR_SOURCE saying what is wrong, so a gateway bug is never silent. */
export function decodeFrame(frame: Buffer): DecodedFrame {
  const bad = (what: string): PdmError =>
    new PdmError('PDM_ERR_SOURCE', `gateway frame of ${frame.length} bytes: ${what}`);
  if (frame.length < HEADER || frame.readUInt32LE(0) !== MAGIC) throw bad('does not start with "PDMF"');
  if (frame.readUInt8(4) !== VERSION) throw bad(`version ${frame.readUInt8(4)} is not supported (expected ${VERSION})`);
  const count = frame.readUInt8(5);
  const n = frame.readUInt32LE(28);
  if (n > MAX_FRAME_SAMPLES) throw bad(`${n} samples per channel exceeds ${MAX_FRAME_SAMPLES}`);
  const rateHz = frame.readDoubleLE(20);
  if (!(rateHz > 0)) throw bad(`rate ${rateHz} Hz is not positive`);
  let offset = HEADER;
  const names: string[] = [];
  for (let c = 0; c < count; c++) {
    if (offset >= frame.length) throw bad('truncated channel names');
    const length = frame.readUInt8(offset);
    names.push(frame.toString('utf8', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  offset += (4 - (offset % 4)) % 4;
  if (frame.length !== offset + count * n * 4)
    throw bad(`expected ${offset + count * n * 4} bytes for ${count}×${n} samples`);
  const channels: Record<string, Float64Array> = {};
  names.forEach((name, c) => {
    const data = new Float64Array(n);
    const base = offset + c * n * 4;
    for (let i = 0; i < n; i++) data[i] = frame.readFloatLE(base + i * 4);
    channels[name] = data;
  });
  return { sequence: frame.readUInt32LE(8), block: { t0: frame.readDoubleLE(12), rateHz, channels } };
}

/** Where a gateway publishes one machine's frames. */
export const gatewayTopic = (prefix: string, site: string, machine: string): string =>
  `${prefix}/${site}/${machine}/raw`;
