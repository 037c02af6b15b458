/**
 * The webhook outbox of a cluster (REDIS_URL): one Redis stream, `chat:webhooks`, that
 * every node writes and the node holding the lease delivers from. An event's id is its
 * entry's id (`evt_<stream id>`), so it stays the same however often it is delivered.
 * Message events are written by the store's scripts, with the message (redis-store.ts);
 * member counts and their events by the scripts of redis/outbox-scripts.ts.
 *
 * Members are counted across nodes in Redis: a room's members hash, and each node's own
 * share. Each node renews a heartbeat (`chat:node:<id>`, a TTL) and, at each beat, lets
 * go of the nodes whose heartbeat lapsed, so a dead node's members leave. A node also
 * keeps its own share in memory (bounded by its connections) and writes it whole
 * whenever Redis may have lost track of it: after a failed write, or when its own
 * heartbeat had lapsed and another node let its members go.
 *
 * Redis down: recording an event fails without a throw and without a queue; it is logged
 * at debug and counted (`lost`). A message is then not stored either (RedisStore's outage
 * rule), so no acknowledged message loses its event. Reading and removing events reject,
 * for the delivery to try again; the lease answers false.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { RedisClientType } from 'redis';
import type { EventOutbox, MemberRef, OutboxDepth, WebhookEvent, WebhookEventType } from '../event-outbox';
import { MEMBERS_PREFIX, NODE_PREFIX, nodeKey, nodeMembersKey, NODES_KEY, WEBHOOKS_KEY, WEBHOOKS_LEASE_KEY } from './keys';
import { BEAT_SCRIPT, DEPTH_SCRIPT, LEASE_SCRIPT, MEMBER_SCRIPT, RELEASE_SCRIPT, SYNC_SCRIPT } from './outbox-scripts';

/** A client as `createClient({ url, ... })` makes it: no modules, scripts or functions, RESP3. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type RedisClient = RedisClientType<{}, {}, {}, 3, {}>;

export interface RedisOutboxOptions {
  /** How often the node renews its heartbeat and looks for nodes whose heartbeat lapsed. */
  beatMs?: number;
  /** How long a heartbeat lasts unrenewed: past it, the other nodes let the node's members go. */
  heartbeatTtlMs?: number;
}

const DEFAULT_BEAT_MS = 5_000;
const DEFAULT_HEARTBEAT_TTL_MS = 15_000;

const EVENT_ID_PREFIX = 'evt_';

/** A member's connections on this node in one room. */
interface Share {
  room: string;
  key: string;
  connections: number;
  /** `{"name","user"}`: what its member events carry. */
  who: string;
}

export class RedisOutbox implements EventOutbox {
  /** This process's id among the nodes: a new one at each start. */
  readonly nodeId = randomBytes(8).toString('hex');
  /** This node's members, by `<room>:<member key>`. */
  private readonly shares = new Map<string, Share>();
  /** Redis may not hold this node's share as `shares` has it. */
  private unsynced = false;
  private timer: NodeJS.Timeout | undefined;
  private beating = false;
  private lostEvents = 0;
  private readonly beatMs: number;
  private readonly heartbeatTtlMs: number;
  /** Run before each event is written (precededBy). */
  private writeFirst: () => void = () => undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly logger: Logger,
    options: RedisOutboxOptions = {},
  ) {
    this.beatMs = options.beatMs ?? DEFAULT_BEAT_MS;
    this.heartbeatTtlMs = options.heartbeatTtlMs ?? DEFAULT_HEARTBEAT_TTL_MS;
  }

  /** Events that could not be recorded (Redis down): each was logged at debug. */
  get lost(): number {
    return this.lostEvents;
  }

  /**
   * `send` runs before each event this outbox writes: the store sends the messages given
   * to it before the event (RedisStore keeps a turn's messages for its end), so their
   * events come first in the outbox, as they came.
   */
  precededBy(send: () => void): void {
    this.writeFirst = send;
  }

  /** Counts an event that could not be recorded; the store's scripts report theirs here. */
  noteLost(type: WebhookEventType | 'member', err: unknown): void {
    this.lostEvents += 1;
    this.logger.debug({ err: err instanceof Error ? err.message : String(err), type }, 'webhook event not recorded: redis unavailable');
  }

  /** Joins the nodes: the first beat, then one every `beatMs`. */
  async start(): Promise<void> {
    this.stop();
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch((err: unknown) => this.failedBeat(err)), this.beatMs);
    this.timer.unref();
  }

  /** Stops beating, leaving its share in Redis: the other nodes let it go once the heartbeat lapses. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A clean stop, once its clients have left: its remaining share goes now, and it is no node any more. */
  async leave(at = Date.now()): Promise<void> {
    this.stop();
    this.shares.clear();
    await this.client.eval(SYNC_SCRIPT, {
      keys: [nodeMembersKey(this.nodeId), WEBHOOKS_KEY, NODES_KEY, nodeKey(this.nodeId)],
      arguments: [MEMBERS_PREFIX, this.nodeId, String(at), 'leave'],
    });
  }

  member(room: string, who: MemberRef, delta: 1 | -1, at: number): void {
    const field = `${room}:${who.key}`;
    const share = this.shares.get(field);
    // A leave of a connection never counted here: nothing to take back.
    if (share === undefined && delta < 0) return;
    const data = JSON.stringify(who.user === undefined ? { name: who.name } : { name: who.name, user: who.user });
    if (share === undefined) this.shares.set(field, { room, key: who.key, connections: 1, who: data });
    else if ((share.connections += delta) === 0) this.shares.delete(field);
    this.writeFirst();
    this.client
      .eval(MEMBER_SCRIPT, {
        keys: [nodeMembersKey(this.nodeId), WEBHOOKS_KEY, NODES_KEY],
        arguments: [MEMBERS_PREFIX, this.nodeId, room, who.key, String(delta), data, String(at)],
      })
      .catch((err: unknown) => {
        this.unsynced = true;
        this.noteLost('member', err);
      });
  }

  record(room: string | null, type: WebhookEventType, data: unknown, at: number): void {
    // `undefined` has no JSON: it is sent as null.
    const fields = { type, room: room ?? '', at: String(at), data: JSON.stringify(data) ?? 'null' };
    this.writeFirst();
    this.client.xAdd(WEBHOOKS_KEY, '*', fields).catch((err: unknown) => this.noteLost(type, err));
  }

  async lease(owner: string, ttlMs: number): Promise<boolean> {
    try {
      return Number(await this.client.eval(LEASE_SCRIPT, { keys: [WEBHOOKS_LEASE_KEY], arguments: [owner, String(Math.max(1, Math.trunc(ttlMs)))] })) === 1;
    } catch (err) {
      // Not knowing is not holding: another node may hold it.
      this.logger.debug({ err: (err as Error).message }, 'webhook lease: redis unavailable');
      return false;
    }
  }

  async release(owner: string): Promise<void> {
    await this.client.eval(RELEASE_SCRIPT, { keys: [WEBHOOKS_LEASE_KEY], arguments: [owner] });
  }

  async oldest(limit: number): Promise<WebhookEvent[]> {
    if (limit <= 0) return [];
    const entries = await this.client.xRange(WEBHOOKS_KEY, '-', '+', { COUNT: limit });
    return (entries ?? []).map(({ id, message }) => {
      const fields = message as Record<string, string>;
      return {
        id: EVENT_ID_PREFIX + id,
        type: fields.type as WebhookEventType,
        room: fields.room === '' || fields.room === undefined ? null : fields.room,
        at: Number(fields.at),
        data: fields.data ?? 'null',
      };
    });
  }

  async remove(events: readonly WebhookEvent[]): Promise<void> {
    const ids = events.filter((event) => event.id.startsWith(EVENT_ID_PREFIX)).map((event) => event.id.slice(EVENT_ID_PREFIX.length));
    // Exactly the delivered ones: events recorded meanwhile may sort among them by time.
    if (ids.length > 0) await this.client.xDel(WEBHOOKS_KEY, ids);
  }

  async expire(at: number): Promise<number> {
    // Entry ids start with the time they were added: everything before `at` goes.
    return Number(await this.client.xTrim(WEBHOOKS_KEY, 'MINID', `${Math.max(0, Math.trunc(at))}-0`));
  }

  async depth(): Promise<OutboxDepth> {
    const [events, oldestAt] = (await this.client.eval(DEPTH_SCRIPT, { keys: [WEBHOOKS_KEY] })) as [number, string?];
    return { events: Number(events), oldestAt: oldestAt === undefined || oldestAt === null ? null : Number(oldestAt) };
  }

  /** Renews the heartbeat, lets lapsed nodes go, and writes this node's share whole if Redis may have lost it. */
  private async beat(at = Date.now()): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      const [alive, gone] = (await this.client.eval(BEAT_SCRIPT, {
        keys: [NODES_KEY, WEBHOOKS_KEY],
        arguments: [MEMBERS_PREFIX, NODE_PREFIX, String(this.heartbeatTtlMs), this.nodeId, String(at)],
      })) as [number, number];
      if (Number(gone) > 0) this.logger.info({ nodes: Number(gone) }, 'webhooks: let the members of lapsed nodes go');
      if (Number(alive) === 0 || this.unsynced) await this.sync(at);
    } finally {
      this.beating = false;
    }
  }

  /** Sets this node's share in Redis to what it counts, with the events the difference makes. */
  private async sync(at: number): Promise<void> {
    this.unsynced = false;
    const args = [MEMBERS_PREFIX, this.nodeId, String(at), 'stay'];
    for (const { room, key, connections, who } of this.shares.values()) args.push(room, key, String(connections), who);
    try {
      await this.client.eval(SYNC_SCRIPT, { keys: [nodeMembersKey(this.nodeId), WEBHOOKS_KEY, NODES_KEY, nodeKey(this.nodeId)], arguments: args });
    } catch (err) {
      this.unsynced = true;
      throw err;
    }
  }

  private failedBeat(err: unknown): void {
    this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'webhooks: node heartbeat failed');
  }
}
