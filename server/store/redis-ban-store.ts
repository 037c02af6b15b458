/**
 * With REDIS_URL: bans in one hash shared by every node, `chat:bans` (id -> the ban as
 * JSON), and the version every node watches, `chat:bans:version`, incremented in the
 * same transaction as each add and remove. A load reads the hash whole: a ban list is
 * small next to what Redis answers at once (100000 bans are a few megabytes).
 *
 * Redis down is an outage: every call fails at once with StoreUnavailableError (the
 * connection has no offline queue) and the nodes keep the bans they hold.
 */
import type { Logger } from 'pino';
import type { RedisClientType } from 'redis';
import type { Ban } from '../protocol';
import { byId, decodeBan, encodeBan, expired } from './ban-records';
import type { BanStore } from './ban-store';
import { StoreUnavailableError } from './message-store';

/** Hash: ban id -> the ban as JSON. */
export const BANS_KEY = 'chat:bans';
/** Integer: how many adds and removes were ever made. */
export const BANS_VERSION_KEY = 'chat:bans:version';

/** A client as `createClient({ url, ... })` makes it: no modules, scripts or functions, RESP3. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type BanRedisClient = RedisClientType<{}, {}, {}, 3, {}>;

/** Takes the ban out, counting the change only if there was one: answers its JSON, or nil. */
const REMOVE_SCRIPT = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return nil end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
return json
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

  /** The client belongs to whoever made it (the cluster setup), which closes it. */
  constructor(
    private readonly client: BanRedisClient,
    private readonly logger: Logger,
  ) {
    client.on('ready', this.onReady);
  }

  async add(ban: Ban): Promise<void> {
    await this.call(() => this.client.multi().hSet(BANS_KEY, ban.id, encodeBan(ban)).incr(BANS_VERSION_KEY).exec());
  }

  async remove(id: string): Promise<Ban | null> {
    const json = await this.call(() => this.client.eval(REMOVE_SCRIPT, { keys: [BANS_KEY, BANS_VERSION_KEY], arguments: [id] }));
    if (typeof json !== 'string') return null;
    const ban = decodeBan(json);
    return ban === null || expired(ban, Date.now()) ? null : ban;
  }

  async load(now: number): Promise<Ban[]> {
    const stored = (await this.call(() => this.client.hGetAll(BANS_KEY))) as Record<string, string>;
    const bans: Ban[] = [];
    const stale: string[] = [];
    for (const [id, json] of Object.entries(stored)) {
      const ban = decodeBan(json);
      if (ban === null) this.logger.warn({ key: BANS_KEY, id }, 'a stored ban is not readable; skipped');
      else if (expired(ban, now)) stale.push(id);
      else bans.push(ban);
    }
    // Expired bans are no change (every node skips them already): the version stays.
    if (stale.length > 0) await this.call(() => this.client.hDel(BANS_KEY, stale));
    return bans.sort(byId);
  }

  async version(): Promise<number> {
    const count = await this.call(() => this.client.get(BANS_VERSION_KEY));
    return this.reconnects * RECONNECT_SPAN + Number(count ?? 0);
  }

  close(): void {
    this.closed = true;
    this.client.off('ready', this.onReady);
  }

  /** Sends a command; whatever goes wrong (no connection, an error reply) rejects with StoreUnavailableError. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('closed');
    try {
      return await command();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.logger.debug({ err: reason }, 'ban store unavailable');
      throw new StoreUnavailableError(reason);
    }
  }
}
