import { DEFAULT_ROOM, isRoomName, rawRoomPath, roomNamespace } from '../../server/protocol.js';

/**
 * The server's own address for Socket.IO: scheme, host and port of `base` (http, https,
 * ws or wss), nothing else. A path would be taken for a Socket.IO namespace.
 */
export function httpOrigin(base: string): string {
  const url = new URL(base);
  url.protocol = url.protocol === 'wss:' || url.protocol === 'https:' ? 'https:' : 'http:';
  return url.origin;
}

/**
 * Refuses a malformed room name before it goes into a URL: `..` or `/` in a path would be
 * resolved away by URL itself and land the client in some other room without a word.
 */
export function checkRoomName(room: string): void {
  if (!isRoomName(room)) throw new RangeError(`not a room name: ${JSON.stringify(room)}`);
}

/**
 * The raw WebSocket endpoint of the server at `base` for `room` (the lobby, `/socket`, by
 * default), with its query options.
 */
export function rawSocketUrl(base: string, query: Record<string, string | undefined> = {}, room: string = DEFAULT_ROOM): string {
  checkRoomName(room);
  const url = new URL(rawRoomPath(room), httpOrigin(base).replace(/^http/, 'ws'));
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, value);
  }
  return url.toString();
}

/**
 * The Socket.IO address of `room` on the server at `base`: its origin and the room's
 * namespace. The lobby is the bare origin, as before rooms.
 */
export function socketIoRoomUrl(base: string, room: string = DEFAULT_ROOM): string {
  checkRoomName(room);
  const namespace = roomNamespace(room);
  return namespace === '/' ? httpOrigin(base) : `${httpOrigin(base)}${namespace}`;
}
