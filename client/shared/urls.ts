import { RAW_PATH } from '../../server/protocol.js';

/**
 * The server's own address for Socket.IO: scheme, host and port of `base` (http, https,
 * ws or wss), nothing else. A path would be taken for a Socket.IO namespace.
 */
export function httpOrigin(base: string): string {
  const url = new URL(base);
  url.protocol = url.protocol === 'wss:' || url.protocol === 'https:' ? 'https:' : 'http:';
  return url.origin;
}

/** The raw WebSocket endpoint of the server at `base`, with its query options. */
export function rawSocketUrl(base: string, query: Record<string, string | undefined> = {}): string {
  const url = new URL(RAW_PATH, httpOrigin(base).replace(/^http/, 'ws'));
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, value);
  }
  return url.toString();
}
