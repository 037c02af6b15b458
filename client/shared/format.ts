import { ActionError, RoomError, TokenError, type Notice, type TokenErrorCode } from '../../server/protocol.js';

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

/** What a session reports when the server ends it because the token ran out. */
export const TOKEN_EXPIRED = 'token expired: the server ended the session';

/**
 * One line for a token refusal: `unauthorized` (HTTP 401) or `forbidden` (HTTP 403) for
 * `room`. Never the token itself.
 */
export function describeTokenRefusal(code: TokenErrorCode, room: string, token: string | undefined): string {
  if (code === TokenError.Forbidden) return `the server refused the token: it does not allow room ${room} (forbidden)`;
  if (token === undefined) return 'the server needs a token (unauthorized)';
  if (tokenExpired(token)) return 'the server refused the token: it has expired (unauthorized)';
  return 'the server refused the token (unauthorized)';
}

/** Whether `reason` (a session's status reason) is about the token: refused or expired. */
export function isTokenRefusal(reason: string): boolean {
  return reason === TOKEN_EXPIRED || /^the server (refused the token|needs a token)\b/.test(reason);
}

/**
 * How far the server's clock may be ahead of ours: a JWT whose `exp` is this close is
 * taken for expired when the server ends the session.
 */
const CLOCK_LEEWAY_MS = 60_000;

/**
 * Whether `token` is a JWT whose `exp` has passed (give or take CLOCK_LEEWAY_MS). Its
 * signature is not checked: that is the server's business; this only says why it ended a
 * session. A token that is not a JWT, or has no `exp`, never expires here.
 */
export function tokenExpired(token: string, now = Date.now()): boolean {
  const payload = token.split('.')[1];
  if (payload === undefined || token.split('.').length !== 3) return false;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4))) as { exp?: unknown };
    return typeof claims.exp === 'number' && claims.exp * 1000 <= now + CLOCK_LEEWAY_MS;
  } catch {
    return false;
  }
}

/** A Map, not an object: a code such as `constructor` must not find anything. */
const REFUSALS = new Map<string, string>([
  [ActionError.Invalid, 'the server did not understand the request'],
  [ActionError.NotFound, 'no such message in this room'],
  [ActionError.Forbidden, 'only its author may do that'],
  [ActionError.Empty, 'the text is empty'],
  [ActionError.TooLarge, 'the text is too long'],
  [ActionError.TooManyReactions, 'it has as many different reactions as it can take'],
  [ActionError.RateLimited, 'too much at once; try again in a moment'],
  [ActionError.Unavailable, 'the server cannot do that right now'],
  [ActionError.NotJoined, 'not in the room yet'],
  [ActionError.Rejected, 'the server\'s filter refused it'],
]);

/** Why the server refused an edit, a delete, a reaction, a page of history or a read marker, in words (an unknown code as it is). */
export function refusalWords(code: string): string {
  return REFUSALS.get(code) ?? code;
}
