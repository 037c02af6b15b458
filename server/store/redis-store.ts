/**
 * With REDIS_URL: history in Redis, one stream per room, shared by every node.
 *
 * Redis being down is an outage the nodes ride out (docs/deploy.md, "When things fail"): a
 * message is then stamped with a local id and delivered to this node's clients, but not
 * stored. That is the cluster's promise since before the embedded store, and it stays.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { RedisClientType } from 'redis';
import { DEFAULT_ROOM, type ChatMessage } from '../protocol';
import { MessageIdGenerator } from './message-id';
import { jsonBytes } from '../support/json-bytes';
import type { AppendCallback, MessageStore, ReadQuery, RoomQuery, StoredPage, StoredRoom } from './message-store';

/** A client as `createClient({ url, ... })` makes it: no modules, scripts or functions, RESP3. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type RedisClient = RedisClientType<{}, {}, {}, 3, {}>;

/** The lobby's history: the key it had before rooms. */
export const HISTORY_KEY = 'chat:history';

/** Each room's history stream. */
export function historyKey(room: string): string {
  return room === DEFAULT_ROOM ? HISTORY_KEY : `${HISTORY_KEY}:${room}`;
}

/** A stream holding only its last entry: its ids are the message ids of every room. */
const IDS_KEY = 'chat:ids';
/** Every room with stored messages, scored by its newest message's time: the order rooms go in. */
const ROOMS_KEY = 'chat:rooms';
/** The same rooms, all scored 0: the order of the room listing, by name. */
const ROOM_NAMES_KEY = 'chat:room-names';

/**
 * Stamps and stores a message in one step. Stream ids only increase within one stream,
 * and two rooms' streams would hand out the same ids; so the id comes from one stream
 * for all rooms (Redis keeps it increasing even when its clock steps back), and the
 * message goes into its room's stream under that id, which is newer than anything there.
 * A new room past MAX_STORED_ROOMS (0: no bound) makes the room idle longest go, its
 * stream deleted: its key is derived here, as historyKey does (one Redis, not a Redis
 * Cluster, which would want every key declared).
 * KEYS: ids stream, room stream, rooms set, names set.
 * ARGV: room, HISTORY_KEEP, name, text, at, MAX_STORED_ROOMS, the lobby's name, HISTORY_KEY.
 */
const APPEND_SCRIPT = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '1', '*', 'room', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], id, 'name', ARGV[3], 'text', ARGV[4], 'at', ARGV[5])
if redis.call('ZADD', KEYS[3], 'GT', ARGV[5], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[4], 0, ARGV[1])
  local max = tonumber(ARGV[6])
  while max > 0 and redis.call('ZCARD', KEYS[3]) > max do
    local idlest = redis.call('ZRANGE', KEYS[3], 0, 1)
    local gone = idlest[1] == ARGV[1] and idlest[2] or idlest[1]
    redis.call('ZREM', KEYS[3], gone)
    redis.call('ZREM', KEYS[4], gone)
    redis.call('DEL', gone == ARGV[7] and ARGV[8] or (ARGV[8] .. ':' .. gone))
  end
end
return id`;

/**
 * A page of the listing: names after ARGV[1] (a ZRANGE BYLEX bound), at most ARGV[2],
 * each followed by its newest message's time. KEYS: names set, rooms set.
 */
const ROOMS_SCRIPT = `
local out = {}
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, ARGV[2])) do
  local at = redis.call('ZSCORE', KEYS[2], name)
  if at then
    out[#out + 1] = name
    out[#out + 1] = at
  end
end
return out`;

/** Stores written before the names set existed: it is filled once from the rooms set. KEYS: rooms set, names set. */
const NAMES_UPGRADE_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local names = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, name in ipairs(names) do redis.call('ZADD', KEYS[2], 0, name) end
return #names`;

type Entry = { id: string; message: Record<string, string> };
const messageOf = ({ id, message }: Entry): ChatMessage => ({
  id,
  text: message.text ?? '',
  name: message.name ?? '',
  at: Number(message.at),
});

/** The first chunk a page reads from a stream; each next one is twice as large, up to MAX_CHUNK. */
const FIRST_CHUNK = 16;
const MAX_CHUNK = 256;

/**
 * Up to `limit` messages read from `from` onwards (an exclusive `(id` after the first
 * chunk), in chunks, no further than the first that would pass `maxBytes` as JSON (at
 * least one is taken): a page of large messages loads at most one chunk more than it
 * returns. `more`: whether any was left.
 */
async function readPage(
  read: (from: string, count: number) => Promise<Entry[]>,
  from: string,
  limit: number,
  maxBytes: number,
): Promise<{ messages: ChatMessage[]; more: boolean }> {
  const messages: ChatMessage[] = [];
  let bytes = 0;
  let cursor = from;
  for (let chunk = FIRST_CHUNK; ; chunk = Math.min(chunk * 2, MAX_CHUNK)) {
    const want = Math.min(chunk, limit + 1 - messages.length);
    const entries = await read(cursor, want);
    for (const entry of entries) {
      const message = messageOf(entry);
      if (maxBytes !== Number.POSITIVE_INFINITY) bytes += jsonBytes(message);
      if (messages.length === limit || (messages.length > 0 && bytes > maxBytes)) return { messages, more: true };
      messages.push(message);
    }
    const last = entries.at(-1);
    if (entries.length < want || last === undefined) return { messages, more: false };
    cursor = `(${last.id}`;
  }
}

const OUTAGE_STRIDE = 2 ** 32;

/**
 * Ids stamped while Redis is down, `<ms>-<seq>` with `seq` at least 2^32: a Redis stream
 * never reaches that many ids in one millisecond, so they cannot be Redis's. Each node
 * takes a random part below 2^32 and every 2^32-th sequence number from there, so two
 * nodes stamping in the same millisecond give different ids (unless they drew the same
 * part: one chance in 2^32 per pair of nodes), and both parts stay safe integers.
 */
export function outageIds(part = randomInt(0, OUTAGE_STRIDE)): MessageIdGenerator {
  return new MessageIdGenerator(Date.now, OUTAGE_STRIDE + part, OUTAGE_STRIDE);
}

export class RedisStore implements MessageStore {
  private readonly fallbackIds = outageIds();

  /** `keep`: HISTORY_KEEP; `maxRooms`: MAX_STORED_ROOMS (0: no bound). */
  constructor(
    private readonly client: RedisClient,
    private readonly keep: number,
    private readonly maxRooms: number,
    private readonly logger: Logger,
  ) {}

  /** Before the first message: a store written by an earlier version gets its names set. */
  async upgrade(): Promise<void> {
    const filled = Number(await this.client.eval(NAMES_UPGRADE_SCRIPT, { keys: [ROOMS_KEY, ROOM_NAMES_KEY] }));
    if (filled > 0) this.logger.info({ rooms: filled }, 'redis: listed the stored rooms by name');
  }

  append(room: string, name: string, text: string, done: AppendCallback): void {
    const at = Date.now();
    // Answers come in the order asked: the requests are pipelined on one connection.
    this.client
      .eval(APPEND_SCRIPT, {
        keys: [IDS_KEY, historyKey(room), ROOMS_KEY, ROOM_NAMES_KEY],
        arguments: [room, String(this.keep), name, text, String(at), String(this.maxRooms), DEFAULT_ROOM, HISTORY_KEY],
      })
      .then(
        (id) => done(null, { id: String(id), text, name, at }),
        (err: unknown) => {
          // Not in the shared history (docs/deploy.md, "When things fail"); unique across nodes (outageIds).
          this.logger.debug({ err: (err as Error).message }, 'history unavailable; local id');
          done(null, { id: this.fallbackIds.next().id, text, name, at });
        },
      );
  }

  async recent(room: string, limit: number): Promise<ChatMessage[]> {
    if (limit === 0) return [];
    const entries = (await this.client.xRevRange(historyKey(room), '+', '-', { COUNT: limit })) as Entry[];
    return entries.reverse().map(messageOf);
  }

  async read(room: string, query: ReadQuery): Promise<StoredPage> {
    const key = historyKey(room);
    const { since, limit, maxBytes = Number.POSITIVE_INFINITY } = query;
    if (since === undefined) {
      const newest = await readPage((end, count) => this.client.xRevRange(key, end, '-', { COUNT: count }) as Promise<Entry[]>, '+', limit, maxBytes);
      return { messages: newest.messages.reverse(), complete: true, more: newest.more };
    }
    const [found, after] = await Promise.all([
      this.client.xRange(key, since, since) as Promise<Entry[]>,
      readPage((start, count) => this.client.xRange(key, start, '+', { COUNT: count }) as Promise<Entry[]>, `(${since}`, limit, maxBytes),
    ]);
    return { messages: after.messages, complete: found.length > 0, more: after.more };
  }

  async rooms(query: RoomQuery): Promise<StoredRoom[]> {
    const from = query.after === undefined ? '-' : `(${query.after}`;
    const flat = (await this.client.eval(ROOMS_SCRIPT, { keys: [ROOM_NAMES_KEY, ROOMS_KEY], arguments: [from, String(query.limit)] })) as string[];
    const rooms: StoredRoom[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) rooms.push({ name: String(flat[i]), lastMessageAt: Number(flat[i + 1]) });
    return rooms;
  }

  /** An outage is the cluster's to report (/readyz says "redis unreachable"). */
  problem(): null {
    return null;
  }

  /** The client belongs to the cluster setup, which closes it. */
  close(): void {}
}
