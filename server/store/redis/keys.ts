/**
 * The keys of the Redis store. Every key of one room derives from the room's name alone
 * (`roomKeys`). On one Redis they keep the names they always had; on a Redis Cluster
 * (`clusterKeys`) each room's keys carry the room in a `{hash tag}`, so that they share a
 * slot and a script may touch them together.
 */
import { DEFAULT_ROOM } from '../../protocol';
import { slotOf, slotTag } from './slots';

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

/**
 * The webhook outbox (redis/outbox.ts): one stream for every room, entries `type`, `room`
 * (empty for no room), `at`, `data` (JSON). It crosses slots: a Redis Cluster (issue #24)
 * will want it sharded, e.g. a stream per slot of rooms.
 */
export const WEBHOOKS_KEY = 'chat:webhooks';
/** String: the node delivering webhooks now, expiring unless it renews it. */
export const WEBHOOKS_LEASE_KEY = 'chat:webhooks:lease';

/** Where a room's members hash starts; the room's name follows in a hash tag. */
export const MEMBERS_PREFIX = 'chat:members:';
/** Hash: member key -> `<connections on every node> <{"name","user"} as JSON>`. */
export function membersKey(room: string): string {
  return `${MEMBERS_PREFIX}{${room}}`;
}

/** Set: the ids of the nodes that count members. */
export const NODES_KEY = 'chat:nodes';
/** Where a node's keys start: its heartbeat is `chat:node:<id>`. */
export const NODE_PREFIX = 'chat:node:';
/** String with a TTL: the node is alive while it exists. */
export function nodeKey(node: string): string {
  return `${NODE_PREFIX}${node}`;
}
/** Hash: `<room>:<member key>` -> the node's connections of that member in that room. */
export function nodeMembersKey(node: string): string {
  return `${NODE_PREFIX}${node}:members`;
}

/** Where the store keeps what: one layout for a single Redis, one for a Redis Cluster. */
export interface KeyLayout {
  readonly clustered: boolean;
  room(room: string): RoomKeys;
  /**
   * The stream whose newest id a room's next message takes, and the slot to fold into it
   * (null on one Redis, where one stream serves every room): on a cluster, one stream per
   * slot, in the room's slot, so that the append touches one slot.
   */
  ids(room: string): { key: string; slot: number | null };
  /** Sorted sets: the rooms by newest message time, and by name (ROOMS_KEY, ROOM_NAMES_KEY). */
  readonly rooms: string;
  readonly roomNames: string;
}

export const SINGLE_REDIS_KEYS: KeyLayout = {
  clustered: false,
  room: roomKeys,
  ids: () => ({ key: IDS_KEY, slot: null }),
  rooms: ROOMS_KEY,
  roomNames: ROOM_NAMES_KEY,
};

/** A cluster's: `chat:history:{<room>}` and its side keys, one ids stream per slot, the room sets under `{rooms}`. */
export const CLUSTER_KEYS: KeyLayout = {
  clustered: true,
  room(room) {
    const stream = `${HISTORY_KEY}:{${room}}`;
    return { stream, changes: `${stream}:changes`, reactions: `${stream}:reactions`, rewrite: `${stream}:rewrite` };
  },
  ids(room) {
    const slot = slotOf(room);
    return { key: `${IDS_KEY}:{${slotTag(slot)}}`, slot };
  },
  rooms: 'chat:{rooms}',
  roomNames: 'chat:{rooms}:names',
};
