/**
 * The keys of the Redis store. Every key of one room derives from the room's name alone
 * (`roomKeys`), so that a `{room}` hash tag can later put them in one Redis Cluster slot.
 */
import { DEFAULT_ROOM } from '../../protocol';

/** The lobby's history: the key it had before rooms. */
export const HISTORY_KEY = 'chat:history';

/** Each room's history stream. */
export function historyKey(room: string): string {
  return room === DEFAULT_ROOM ? HISTORY_KEY : `${HISTORY_KEY}:${room}`;
}

/**
 * Where a room's side keys start: `chat:history:<room>` for every room, the lobby too,
 * whose stream is `chat:history` (its side keys as `chat:history:changes` would be the
 * stream of a room named "changes"). Room names have no `:`, so no two rooms share one.
 */
export function roomBase(room: string): string {
  return `${HISTORY_KEY}:${room}`;
}

export interface RoomKeys {
  /** The stream: one entry per message (`name`, `text`, `at`, `user`), or a tombstone (`deleted`, `at`). */
  stream: string;
  /** Hash: message id -> its state since its last edit, `{"text","version","editedAt"}`. */
  changes: string;
  /** Hash: message id -> `{ [emoji]: [user, ...] }`. */
  reactions: string;
  /** The stream while a delete writes it anew: only within that script. */
  rewrite: string;
}

export function roomKeys(room: string): RoomKeys {
  const base = roomBase(room);
  return { stream: historyKey(room), changes: `${base}:changes`, reactions: `${base}:reactions`, rewrite: `${base}:rewrite` };
}

/** Hash per user: room -> the newest message id the user has read there. */
export function readsKey(user: string): string {
  return `chat:reads:${user}`;
}

/** A stream holding only its last entry: its ids are the message ids of every room. */
export const IDS_KEY = 'chat:ids';
/** Every room with stored messages, scored by its newest message's time: the order rooms go in. */
export const ROOMS_KEY = 'chat:rooms';
/** The same rooms, all scored 0: the order of the room listing, by name. */
export const ROOM_NAMES_KEY = 'chat:room-names';
