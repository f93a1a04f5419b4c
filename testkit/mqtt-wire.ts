/** MQTT 3.1.1 wire pieces for clients written by hand (the lean bench client, tests sending what libraries will not). */
export function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

/** A string or bytes with its two-byte big-endian length in front. */
export function utf8Field(s: string | Buffer): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const field = Buffer.alloc(2 + bytes.length);
  field.writeUInt16BE(bytes.length, 0);
  bytes.copy(field, 2);
  return field;
}
