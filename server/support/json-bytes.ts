/**
 * The size of `value` on the wire as JSON, in UTF-8 bytes: what a JSON or Socket.IO client
 * receives for it. Text of control characters is six times larger there (`\u0001`), so
 * every bound on what the server sends counts this, not the text's own length.
 */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}
