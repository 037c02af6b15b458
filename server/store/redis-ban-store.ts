/**
 * With REDIS_URL: bans in one hash shared by every node, `chat:bans` (id -> the ban as
 * JSON); the version every node watches, `chat:bans:version`, and the log of the latest
 * changes, `chat:bans:log`, both written in the same script as each add and remove. A
 * load reads the hash whole: a ban list is small next to what Redis answers at once
 * (100000 bans are a few megabytes); `changes` reads the log and the bans it names.
 *
 * Redis down is an outage: every call fails at once with StoreUnavailableError (the
 * connection has no offline queue) and the nodes keep the bans they hold.
 */
import type { Logger } from 'pino';
import type { Ban } from '../protocol';
import { byId, decodeBan, encodeBan, expired, foldLog, logCovers, type BanLogEntry } from './ban-records';
import { BAN_LOG_SIZE, type BanChanges, type BanStore } from './ban-store';
import { StoreUnavailableError } from './message-store';
import type { RedisCommands } from './redis/commands';
import { tryingAgain } from './redis/try-again';

/** Hash: ban id -> the ban as JSON. */
export const BANS_KEY = 'chat:bans';
/** Integer: how many adds and removes were ever made. */
export const BANS_VERSION_KEY = 'chat:bans:version';
/**
 * Sorted set: the latest BAN_LOG_SIZE adds and removes, each scored by the version it
 * made, as `<version>:<add|remove>:<id>` (the version keeps two changes of one id apart).
 */
export const BANS_LOG_KEY = 'chat:bans:log';

/** The three keys, in the scripts' order: hash, version, log. */
export type BanKeys = readonly [hash: string, version: string, log: string];

export const SINGLE_REDIS_BAN_KEYS: BanKeys = [BANS_KEY, BANS_VERSION_KEY, BANS_LOG_KEY];
/** On a Redis Cluster, in one slot: the scripts touch all three. */
export const CLUSTER_BAN_KEYS: BanKeys = ['chat:{bans}', 'chat:{bans}:version', 'chat:{bans}:log'];

/**
 * What the store uses of a node-redis client or cluster: its commands, and the event it
 * emits when a connection (on a cluster: to any of its nodes) is ready again.
 */
export interface BanRedisClient extends RedisCommands {
  on(event: 'ready' | 'node-ready', listener: () => void): unknown;
  off(event: 'ready' | 'node-ready', listener: () => void): unknown;
}

/** Counts a change to the ban ARGV[1] and logs it as ARGV[2] (`add`, `remove`), keeping the latest ARGV[3]. */
const LOG_CHANGE = `
local function logged(id, op, size)
  local version = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[3], version, version .. ':' .. op .. ':' .. id)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(size) + 1))
end
`;

/** Keeps the ban ARGV[4] as ARGV[1]'s JSON. */
const ADD_SCRIPT = `${LOG_CHANGE}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
logged(ARGV[1], ARGV[2], ARGV[3])
return 1
`;

/** Takes the ban out, counting the change only if there was one: answers its JSON, or nil. */
const REMOVE_SCRIPT = `${LOG_CHANGE}
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return nil end
redis.call('HDEL', KEYS[1], ARGV[1])
logged(ARGV[1], ARGV[2], ARGV[3])
return json
`;

/**
 * What changed after version ARGV[1], read at once: the version, the oldest logged
 * version (or -1 for none), the log's entries after ARGV[1], and each id they name with
 * its ban's JSON (nil when gone).
 */
const CHANGES_SCRIPT = `
local version = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
local oldest = -1
if #first > 0 then oldest = tonumber(first[2]) end
local entries = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[1], '+inf')
local ids, seen = {}, {}
for _, entry in ipairs(entries) do
  local id = string.match(entry, '^%d+:%a+:(.*)$')
  if not seen[id] then
    seen[id] = true
    ids[#ids + 1] = id
  end
end
local bans = {}
for i, id in ipairs(ids) do
  bans[2 * i - 1] = id
  bans[2 * i] = redis.call('HGET', KEYS[1], id)
end
return {version, oldest, entries, bans}
`;

/**
 * What `version` answers: the counter, plus this many for each time the connection came
 * back, so that a Redis restarted empty (its counter counting from 0 again) never
 * answers the number it had before and the node loads the bans again.
 */
const RECONNECT_SPAN = 2 ** 32;

export class RedisBanStore implements BanStore {
  private reconnects = 0;
  private closed = false;
  private readonly onReady = () => {
    this.reconnects += 1;
  };

  private readonly readyEvent: 'ready' | 'node-ready';

  /** The client belongs to whoever made it (the cluster setup), which closes it. `keys`: a single Redis's or a cluster's. */
  constructor(
    private readonly client: BanRedisClient,
    private readonly logger: Logger,
    private readonly keys: BanKeys = SINGLE_REDIS_BAN_KEYS,
  ) {
    this.readyEvent = keys === CLUSTER_BAN_KEYS ? 'node-ready' : 'ready';
    client.on(this.readyEvent, this.onReady);
  }

  async add(ban: Ban): Promise<void> {
    await this.call(() => this.client.eval(ADD_SCRIPT, { keys: [...this.keys], arguments: [ban.id, 'add', String(BAN_LOG_SIZE), encodeBan(ban)] }));
  }

  async remove(id: string): Promise<Ban | null> {
    const json = await this.call(() => this.client.eval(REMOVE_SCRIPT, { keys: [...this.keys], arguments: [id, 'remove', String(BAN_LOG_SIZE)] }));
    if (typeof json !== 'string') return null;
    const ban = decodeBan(json);
    return ban === null || expired(ban, Date.now()) ? null : ban;
  }

  async load(now: number): Promise<Ban[]> {
    const stored = (await this.call(() => this.client.hGetAll(this.keys[0]))) as Record<string, string>;
    const bans: Ban[] = [];
    const stale: string[] = [];
    for (const [id, json] of Object.entries(stored)) {
      const ban = decodeBan(json);
      if (ban === null) this.logger.warn({ key: this.keys[0], id }, 'a stored ban is not readable; skipped');
      else if (expired(ban, now)) stale.push(id);
      else bans.push(ban);
    }
    // Expired bans are no change (every node skips them already): the version stays.
    if (stale.length > 0) await this.call(() => this.client.hDel(this.keys[0], stale));
    return bans.sort(byId);
  }

  async version(): Promise<number> {
    const count = await this.call(() => this.client.get(this.keys[1]));
    return this.reconnects * RECONNECT_SPAN + Number(count ?? 0);
  }

  async changes(since: number): Promise<BanChanges | null> {
    const reconnects = this.reconnects;
    const span = reconnects * RECONNECT_SPAN;
    // A version of another connection's span counts on a Redis that may have started over.
    if (!(since >= span && since < span + RECONNECT_SPAN)) return null;
    const reply = await this.call(() => this.client.eval(CHANGES_SCRIPT, { keys: [...this.keys], arguments: [String(since - span)] }));
    if (this.reconnects !== reconnects) return null;
    const [count, oldest, entries, bans] = reply as [number, number, string[], (string | null)[]];
    if (!logCovers(oldest < 0 ? null : oldest, count, since - span)) return null;
    const { added: addedIds, removed } = foldLog(entries.map(entryOf));
    const stored = new Map<string, string | null>();
    for (let i = 0; i < bans.length; i += 2) stored.set(bans[i] as string, bans[i + 1] ?? null);
    const added: Ban[] = [];
    for (const id of addedIds) {
      const json = stored.get(id) ?? null;
      const ban = json === null ? null : decodeBan(json);
      if (json !== null && ban === null) this.logger.warn({ key: this.keys[0], id }, 'a stored ban is not readable; skipped');
      // Dropped by a load since (expired), or not readable: gone as a lifted one is.
      if (ban === null) removed.push(id);
      else added.push(ban);
    }
    return { version: span + count, added, removed };
  }

  close(): void {
    this.closed = true;
    this.client.off(this.readyEvent, this.onReady);
  }

  /** Sends a command; whatever goes wrong (no connection, an error reply) rejects with StoreUnavailableError. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('closed');
    try {
      // Sent again while the bans' slot moves between a cluster's masters (TRYAGAIN).
      return await tryingAgain(command);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.logger.debug({ err: reason }, 'ban store unavailable');
      throw new StoreUnavailableError(reason);
    }
  }
}

/** A log entry, `<version>:<op>:<id>`, as foldLog takes it (the id may hold colons). */
function entryOf(entry: string): Pick<BanLogEntry, 'op' | 'id'> {
  const opStart = entry.indexOf(':') + 1;
  const idStart = entry.indexOf(':', opStart) + 1;
  return { op: entry.slice(opStart, idStart - 1) as BanLogEntry['op'], id: entry.slice(idStart) };
}
