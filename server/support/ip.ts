import { isIP } from 'node:net';

/**
 * An address as bans name it: an IPv4 address that a dual-stack socket reports as
 * IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is the IPv4 address, IPv6 is lower case.
 */
export function plainIp(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** `reason` cut to what a WebSocket close frame may carry (123 bytes), whole characters only. */
export function closeReason(reason: string): string {
  let out = '';
  for (const char of reason) {
    if (Buffer.byteLength(out + char, 'utf8') > 123) break;
    out += char;
  }
  return out;
}
