/**
 * With REDIS_URL: history in Redis, one stream per room, shared by every node; each
 * room's edits and reactions in two hashes beside it, read markers in a hash per user
 * (keys: redis/keys.ts; the scripts that keep them: redis/scripts.ts).
 *
 * Redis being down is an outage the nodes ride out (docs/deploy.md, "When things fail"): a
 * message is then stamped with a local id and delivered to this node's clients, but not
 * stored. That is the cluster's promise since before the embedded store, and it stays. A
 * change to a stored message is refused instead (`unavailable`): it has nothing to change.
 *
 * With events on (WEBHOOK_URL), each message, edit and delete adds its webhook event to
 * the outbox (redis/outbox.ts) in the script that makes it.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorReply } from 'redis';
import { DEFAULT_ROOM, MAX_REACTIONS, type ChatMessage, type HistoryMessage, type UserRoom } from '../protocol';
import { atTurnEnd } from '../support/turn-end';
import { isMessageId, MessageIdGenerator } from './message-id';
import {
  byName,
  StoreUnavailableError,
  type Actor,
  type AppendCallback,
  type ChangeCallback,
  type ChangeRefusal,
  type ChangeResult,
  type MessageChange,
  type MessageStore,
  type ReadQuery,
  type RoomQuery,
  type StoredPage,
  type StoredRoom,
} from './message-store';
import type { RedisCommands } from './redis/commands';
import { HISTORY_KEY, readsKey, SINGLE_REDIS_KEYS, WEBHOOKS_KEY, type KeyLayout } from './redis/keys';
import type { RedisOutbox } from './redis/outbox';
import { messagesOf, readPage, type PageReply } from './redis/pages';
import {
  APPEND_SCRIPT,
  CLUSTER_APPEND_SCRIPT,
  DELETE_RECORDING_SCRIPT,
  DELETE_SCRIPT,
  EDIT_RECORDING_SCRIPT,
  EDIT_SCRIPT,
  LET_GO_SCRIPT,
  LISTED_SCRIPT,
  LIVE_SCRIPT,
  MARK_SCRIPT,
  NAMES_UPGRADE_SCRIPT,
  PAGE_SCRIPT,
  REACT_SCRIPT,
  ROOMS_SCRIPT,
  UNREAD_SCRIPT,
} from './redis/scripts';

export { HISTORY_KEY, historyKey } from './redis/keys';

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

/** An actor as the scripts take it: kind, then user. */
const actorArgs = (by: Actor): [string, string] => (typeof by === 'string' ? [by, ''] : ['user', by.user]);

/** An entry as node-redis reads it from a stream. */
type StreamEntry = { id: string; message: Record<string, string> };

/** A change script's answer: ['ok', value?] or [refusal]. */
type ChangeReply = [string, (string | number)?];

/** A message given to `append`, stored at the end of its turn. */
interface WaitingAppend {
  room: string;
  name: string;
  text: string;
  at: number;
  user: string | undefined;
  done: AppendCallback;
}

/**
 * At most this many messages per append script: a script holds Redis for every other
 * client while it runs, so a turn of thousands of messages goes in several.
 */
const MAX_APPENDS_PER_SCRIPT = 100;

function* inParts<T>(items: readonly T[]): Iterable<readonly T[]> {
  for (let i = 0; i < items.length; i += MAX_APPENDS_PER_SCRIPT) yield items.slice(i, i + MAX_APPENDS_PER_SCRIPT);
}

/** How often at most a node moves a room up the room sets on a Redis Cluster (LISTED_SCRIPT). */
const LISTED_EVERY_MS = 1_000;

export class RedisStore implements MessageStore {
  private readonly fallbackIds = outageIds();
  /** Rooms this node has moved up the room sets since `listedSince` (a Redis Cluster's). */
  private listed = new Set<string>();
  private listedSince = 0;
  /** This turn's messages, stored at its end (append). */
  private waiting: WaitingAppend[] = [];

  /**
   * `keep`: HISTORY_KEEP; `maxRooms`: MAX_STORED_ROOMS (0: no bound); `events`: the
   * webhook outbox each message, edit and delete records its event in (WEBHOOK_URL set;
   * one Redis only: its stream spans every room); `keys`: a single Redis's or a cluster's.
   */
  constructor(
    private readonly client: RedisCommands,
    private readonly keep: number,
    private readonly maxRooms: number,
    private readonly logger: Logger,
    readonly events?: RedisOutbox,
    private readonly keys: KeyLayout = SINGLE_REDIS_KEYS,
  ) {
    if (events !== undefined && keys.clustered) throw new Error('webhook events need a single Redis: their outbox spans every room');
    // The outbox's other events keep their order with the messages' (SqliteStore commits them together).
    events?.precededBy(this.sendAppends);
  }

  /** Before the first message: a store written by an earlier version gets its names set. */
  async upgrade(): Promise<void> {
    this.sendAppends();
    const filled = Number(await this.client.eval(NAMES_UPGRADE_SCRIPT, { keys: [this.keys.rooms, this.keys.roomNames] }));
    if (filled > 0) this.logger.info({ rooms: filled }, 'redis: listed the stored rooms by name');
  }

  /**
   * Stores the message with the others of this turn, in one command at the turn's end
   * (APPEND_SCRIPT; on a Redis Cluster one per room: CLUSTER_APPEND_SCRIPT). Why: a
   * command is a round trip and a wake-up for Redis and for the node, whatever it
   * carries, so a turn's messages cost one instead of one each (BENCHMARKS.md, issue #24).
   * The store's other commands send the waiting appends first (sendAppends), so Redis runs
   * them all in the order asked.
   */
  append(room: string, name: string, text: string, done: AppendCallback, user?: string): void {
    if (this.waiting.length === 0) atTurnEnd(this.sendAppends);
    this.waiting.push({ room, name, text, at: Date.now(), user, done });
  }

  /** Sends the appends waiting for the end of the turn, if any. */
  private readonly sendAppends = (): void => {
    const appends = this.waiting;
    if (appends.length === 0) return;
    this.waiting = [];
    if (!this.keys.clustered) {
      for (const part of inParts(appends)) this.answer(part, this.client.eval(APPEND_SCRIPT, this.appendCommand(part)) as Promise<string[]>);
      return;
    }
    // A script touches one slot: each room's messages go in one of their own.
    const byRoom = new Map<string, WaitingAppend[]>();
    for (const append of appends) {
      const same = byRoom.get(append.room);
      if (same === undefined) byRoom.set(append.room, [append]);
      else same.push(append);
    }
    for (const [room, same] of byRoom) for (const part of inParts(same)) this.answer(part, this.clusterAppend(room, part));
  };

  /** CLUSTER_APPEND_SCRIPT for `appends` of `room`; answers their ids. */
  private clusterAppend(room: string, appends: readonly WaitingAppend[]): Promise<string[]> {
    const ids = this.keys.ids(room);
    const args = [String(this.keep), String(ids.slot)];
    for (const { name, text, at, user } of appends) args.push(name, text, String(at), user === undefined ? '' : `u${user}`);
    return this.client.eval(CLUSTER_APPEND_SCRIPT, { keys: [ids.key, this.keys.room(room).stream], arguments: args }).then((reply) => {
      const [fresh, newIds] = reply as [number, string[]];
      this.list(room, (appends[appends.length - 1] as WaitingAppend).at, Number(fresh) === 1);
      return newIds;
    });
  }

  /** APPEND_SCRIPT's keys and arguments for `appends`. */
  private appendCommand(appends: readonly WaitingAppend[]): { keys: string[]; arguments: string[] } {
    const recording = this.events !== undefined;
    const ids = this.keys.ids('').key;
    const keys = [ids, this.keys.rooms, this.keys.roomNames, recording ? WEBHOOKS_KEY : ids];
    const args = [String(this.keep), String(this.maxRooms), DEFAULT_ROOM, HISTORY_KEY, recording ? '1' : '0'];
    for (const { room, name, text, at, user } of appends) {
      keys.push(this.keys.room(room).stream);
      // The event's data but its id, which the script puts first.
      const event = recording ? JSON.stringify(user === undefined ? { name, text, at } : { name, text, at, user }) : '';
      args.push(room, name, text, String(at), user === undefined ? '' : `u${user}`, event);
    }
    return { keys, arguments: args };
  }

  /** Answers each of `appends`, in order, with the id `stored` gives it, or a local one if Redis did not take them. */
  private answer(appends: readonly WaitingAppend[], stored: Promise<string[]>): void {
    const stamped = ({ text, name, at, user }: WaitingAppend, id: string): ChatMessage =>
      user === undefined ? { id, text, name, at } : { id, text, name, at, user };
    stored.then(
      (ids) => appends.forEach((append, i) => append.done(null, stamped(append, String(ids[i])))),
      (err: unknown) => {
        // Not in the shared history (docs/deploy.md, "When things fail"); unique across nodes (outageIds).
        this.logger.debug({ err: (err as Error).message, messages: appends.length }, 'history unavailable; local ids');
        for (const append of appends) {
          this.events?.noteLost('message.created', err);
          append.done(null, stamped(append, this.fallbackIds.next().id));
        }
      },
    );
  }

  async recent(room: string, limit: number): Promise<HistoryMessage[]> {
    if (limit === 0) return [];
    return (await this.page(room, 'XREVRANGE', '+', '-', limit)).reverse();
  }

  async read(room: string, query: ReadQuery): Promise<StoredPage> {
    this.sendAppends();
    const { since, before, limit, maxBytes = Number.POSITIVE_INFINITY } = query;
    if (since === undefined) {
      // Nothing is older than 0-0, or than what is no id (as the memory store orders ids).
      if (before !== undefined && (!isMessageId(before) || /^0+-0+$/.test(before))) return { messages: [], complete: true, more: false };
      const end = before === undefined ? '+' : `(${before}`;
      const newest = await readPage((from, count) => this.page(room, 'XREVRANGE', from, '-', count), end, limit, maxBytes);
      return { messages: newest.messages.reverse(), complete: true, more: newest.more };
    }
    // An id of no shape is stored nowhere: everything is after it, and the page is incomplete.
    const start = isMessageId(since) ? `(${since}` : '-';
    const [found, after] = await Promise.all([
      isMessageId(since) ? (this.client.xRange(this.keys.room(room).stream, since, since) as Promise<unknown[]>) : Promise.resolve([]),
      readPage((from, count) => this.page(room, 'XRANGE', from, '+', count), start, limit, maxBytes),
    ]);
    return { messages: after.messages, complete: (found?.length ?? 0) > 0, more: after.more };
  }

  change(room: string, change: MessageChange, done: ChangeCallback): void {
    this.sendAppends();
    // No shape of an id, no message: Redis would refuse the id as a range bound.
    if (!isMessageId(change.id)) {
      done('not_found');
      return;
    }
    // Pipelined on the connection of the appends: a change is made after every message
    // appended before it, and answered after them.
    this.changeScript(room, change).then(
      (reply) => done(reply[0] === 'ok' ? this.resultOf(change, reply[1]) : (reply[0] as ChangeRefusal)),
      (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        // Redis answered with an error: a script or a key gone wrong, not an outage.
        if (err instanceof ErrorReply) this.logger.error({ err: reason, kind: change.kind }, 'redis refused a change');
        else this.logger.debug({ err: reason }, 'history unavailable; change refused');
        done(new StoreUnavailableError(reason));
      },
    );
  }

  async userRooms(user: string, limit: number): Promise<UserRoom[]> {
    if (limit <= 0) return [];
    this.sendAppends();
    const key = readsKey(user);
    const markers = Object.entries((await this.client.hGetAll(key)) as Record<string, string>);
    const named = markers.map(([name, lastReadId]) => ({ name, lastReadId })).sort(byName);
    const rooms: UserRoom[] = [];
    const gone: string[] = [];
    // In pages of `limit`: a room with no stored messages (MAX_STORED_ROOMS let it go) is not listed.
    for (let i = 0; i < named.length && rooms.length < limit; i += limit) {
      const batch = named.slice(i, i + limit);
      const answers = await Promise.all(
        batch.map(({ name, lastReadId }) => this.client.eval(UNREAD_SCRIPT, { keys: [this.keys.room(name).stream], arguments: [lastReadId] })),
      );
      answers.forEach((answer, j) => {
        const { name, lastReadId } = batch[j] as { name: string; lastReadId: string };
        if (answer === null) gone.push(name);
        else if (rooms.length < limit) {
          const [lastId, unread] = answer as [string, number];
          rooms.push({ name, lastId: String(lastId), lastReadId, unread: Number(unread) });
        }
      });
    }
    // The markers of rooms that went stay no longer: the hash is bounded by the rooms stored.
    if (gone.length > 0) await this.client.hDel(key, gone);
    return rooms;
  }

  async rooms(query: RoomQuery): Promise<StoredRoom[]> {
    this.sendAppends();
    const from = query.after === undefined ? '-' : `(${query.after}`;
    const flat = (await this.client.eval(ROOMS_SCRIPT, { keys: [this.keys.roomNames, this.keys.rooms], arguments: [from, String(query.limit)] })) as string[];
    const rooms: StoredRoom[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) rooms.push({ name: String(flat[i]), lastMessageAt: Number(flat[i + 1]) });
    if (!this.keys.clustered) return rooms;
    // A cluster's room sets are moved up at most once a second (list): each room's newest
    // entry says when its last message came.
    const newest = await Promise.all(rooms.map(({ name }) => this.client.xRevRange(this.keys.room(name).stream, '+', '-', { COUNT: 1 }) as Promise<StreamEntry[]>));
    return rooms.flatMap((room, i) => {
      const at = Number(newest[i]?.[0]?.message.at);
      return Number.isFinite(at) ? [{ name: room.name, lastMessageAt: Math.max(at, room.lastMessageAt) }] : [];
    });
  }

  /** An outage is the cluster's to report (/readyz says "redis unreachable"). */
  problem(): null {
    return null;
  }

  /** The client belongs to the cluster setup, which closes it. */
  close(): void {}

  /**
   * On a Redis Cluster: moves `room` up the room sets, at most once a second per room from
   * this node (the listing reads its time from the room itself), unless it is `fresh` (its
   * stream is new: it may have left the sets), and lets go of any room that had to go for
   * it: the room itself too when it is `kept` after being let go, not just written to.
   */
  private list(room: string, at: number, fresh: boolean, kept = false): void {
    if (at - this.listedSince > LISTED_EVERY_MS) {
      this.listed = new Set();
      this.listedSince = at;
    }
    if (this.listed.has(room) && !fresh) return;
    this.listed.add(room);
    this.client.eval(LISTED_SCRIPT, { keys: [this.keys.rooms, this.keys.roomNames], arguments: [room, String(at), String(this.maxRooms), kept ? '0' : '1'] }).then((gone) => {
      const flat = gone as string[];
      for (let i = 0; i + 1 < flat.length; i += 2) this.letGo(String(flat[i]), Number(flat[i + 1]));
    }, this.notListed(room));
  }

  /** Deletes the keys of a room that left the room sets at `listedAt`, or lists it again if a newer message came. */
  private letGo(room: string, listedAt: number): void {
    this.listed.delete(room);
    const { stream, changes, reactions } = this.keys.room(room);
    this.client.eval(LET_GO_SCRIPT, { keys: [stream, changes, reactions], arguments: [String(listedAt)] }).then((newer) => {
      if (newer !== null) this.list(room, Number(newer), true, true);
    }, this.notListed(room));
  }

  private notListed(room: string) {
    return (err: unknown) => this.logger.debug({ err: err instanceof Error ? err.message : String(err), room }, 'redis: room sets not updated');
  }

  /** Up to `count` entries of `room` from `from` to `to` (XRANGE or XREVRANGE), as they are now. */
  private async page(room: string, command: 'XRANGE' | 'XREVRANGE', from: string, to: string, count: number): Promise<HistoryMessage[]> {
    this.sendAppends();
    const { stream, changes, reactions } = this.keys.room(room);
    const reply = await this.client.eval(PAGE_SCRIPT, { keys: [stream, changes, reactions], arguments: [command, from, to, String(count)] });
    return messagesOf(reply as PageReply);
  }

  private async changeScript(room: string, change: MessageChange): Promise<ChangeReply> {
    const { stream, changes, reactions, rewrite } = this.keys.room(room);
    const keep = String(this.keep);
    const recording = this.events !== undefined;
    let reply: unknown;
    switch (change.kind) {
      case 'edit': {
        // A time that is no number would make the stored state no JSON.
        const args = [change.id, ...actorArgs(change.by), JSON.stringify(change.text), String(Number.isFinite(change.at) ? Math.trunc(change.at) : 0), keep];
        reply = await (recording
          ? this.client.eval(EDIT_RECORDING_SCRIPT, { keys: [stream, changes, WEBHOOKS_KEY], arguments: [...args, room] })
          : this.client.eval(EDIT_SCRIPT, { keys: [stream, changes], arguments: args }));
        break;
      }
      case 'delete': {
        const keys = [stream, changes, reactions, rewrite];
        const args = [change.id, ...actorArgs(change.by)];
        reply = await (recording
          ? this.client.eval(DELETE_RECORDING_SCRIPT, { keys: [...keys, WEBHOOKS_KEY], arguments: [...args, room, String(Date.now())] })
          : this.client.eval(DELETE_SCRIPT, { keys, arguments: args }));
        break;
      }
      case 'react':
        reply = await this.client.eval(REACT_SCRIPT, {
          keys: [stream, reactions],
          arguments: [change.id, change.emoji, change.user, change.on ? '1' : '0', String(MAX_REACTIONS), keep],
        });
        break;
      case 'read':
        if (Number(await this.client.eval(LIVE_SCRIPT, { keys: [stream], arguments: [change.id] })) !== 1) return ['not_found'];
        reply = ['ok', await this.client.eval(MARK_SCRIPT, { keys: [readsKey(change.user)], arguments: [change.id, room] })];
        break;
    }
    return reply as ChangeReply;
  }

  /** What a change the script made becomes; `value` is the script's second answer. */
  private resultOf(change: MessageChange, value: string | number | undefined): ChangeResult {
    switch (change.kind) {
      case 'edit':
        return { kind: 'edit', id: change.id, text: change.text, version: Number(value), editedAt: change.at };
      case 'delete':
        return { kind: 'delete', id: change.id };
      case 'react':
        return { kind: 'reaction', id: change.id, emoji: change.emoji, count: Number(value) };
      case 'read':
        return { kind: 'read', id: String(value), user: change.user };
    }
  }
}
