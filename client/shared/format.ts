import { RoomError, type Notice } from '../../server/protocol.js';

/** Wall-clock time of an event, `HH:MM:SS` in the reader's time zone. */
export function clockTime(at: number): string {
  const date = new Date(at);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** `alice joined (3 online)`: what a join or leave means to a reader. */
export function noticeSummary(notice: Notice): string {
  return `${notice.name} ${notice.kind === 'join' ? 'joined' : 'left'} (${notice.online} online)`;
}

/** `alice is typing…`, `alice and bob are typing…`, `4 people are typing…`, or '' for nobody. */
export function typingSummary(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

/** A Map, not an object: a message such as `constructor` must not find anything. */
const ROOM_REFUSALS = new Map<string, string>([
  [RoomError.InvalidRoom, 'the server refused the room: not a valid room name'],
  [RoomError.RoomLimit, 'the server refused the room: it has as many rooms open as it allows'],
  [RoomError.TooManyRooms, 'the server refused the room: this connection is in too many rooms already'],
]);

/** What a Socket.IO `connect_error` message means when it is a room refusal; otherwise undefined. */
export function describeRoomRefusal(message: string): string | undefined {
  return ROOM_REFUSALS.get(message);
}

/** Whether `reason` (a session's status reason) is the server refusing the room. */
export function isRoomRefusal(reason: string): boolean {
  return [...ROOM_REFUSALS.values()].includes(reason);
}
