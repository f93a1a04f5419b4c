/** Longest identifier a log line carries: a client's user name or client id can be 64 KiB long. */
export const MAX_LOGGED_CHARS = 96;

/**
 * An identifier from the wire as a log line may carry it: control and non-ASCII characters escaped (so a name
 * cannot forge lines or terminal sequences), cut at `max` characters with the full length named.
 */
export function printable(value: unknown, max = MAX_LOGGED_CHARS): string {
  if (value === undefined || value === null) return String(value);
  const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  const head = text.length > max ? text.slice(0, max) : text;
  const escaped = head.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > max ? `${escaped}... (${text.length} chars)` : escaped;
}

/** Every string value of a log line's detail made printable; other values kept. */
export function printableDetail(detail: Record<string, unknown>, max = MAX_LOGGED_CHARS * 2): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(detail))
    out[key] = typeof value === 'string' ? printable(value, max) : value;
  return out;
}
