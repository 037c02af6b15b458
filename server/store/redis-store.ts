/**
 * With REDIS_URL: history in Redis, one stream per room, shared by every node; each
 * room's edits and reactions in two hashes beside it, read markers in a hash per user
 * (keys: redis/keys.ts; the scripts that keep them: redis/scripts.ts).
 *
 * New messages go to Redis a turn's at a time (redis/appends.ts). Redis being down is an
 * outage the nodes ride out (docs/deploy.md, "When things fail"): a message is then
 * stamped with a local id and delivered to this node's clients, but not stored. That is
 * the cluster's promise since before the embedded store, and it stays. A change to a
 * stored message is refused instead (`unavailable`): it has nothing to change. On a Redis
 * Cluster a script is sent again while its slot moves between masters (redis/try-again.ts).
 *
 * With events on (WEBHOOK_URL), each message, edit and delete adds its webhook event to
 * the outbox (redis/outbox.ts) in the script that makes it.
 */
import type { Logger } from 'pino';
import { ErrorReply } from 'redis';
import { MAX_REACTIONS, type HistoryMessage, type UserRoom } from '../protocol';
import { isMessageId } from './message-id';
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
import { RedisAppends } from './redis/appends';
import type { RedisCommands } from './redis/commands';
import { readsKey, SINGLE_REDIS_KEYS, WEBHOOKS_KEY, type KeyLayout } from './redis/keys';
import type { RedisOutbox } from './redis/outbox';
import { messagesOf, readPage, type PageReply } from './redis/pages';
import {
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
import { tryingAgain } from './redis/try-again';

export { outageIds } from './redis/appends';
export { HISTORY_KEY, historyKey } from './redis/keys';

/** An actor as the scripts take it: kind, then user. */
const actorArgs = (by: Actor): [string, string] => (typeof by === 'string' ? [by, ''] : ['user', by.user]);

/** An entry as node-redis reads it from a stream. */
type StreamEntry = { id: string; message: Record<string, string> };

/** A change script's answer: ['ok', value?] or [refusal]. */
type ChangeReply = [string, (string | number)?];

/** How often at most a node moves a room up the room sets on a Redis Cluster (LISTED_SCRIPT). */
const LISTED_EVERY_MS = 1_000;

export class RedisStore implements MessageStore {
  /** Rooms this node has moved up the room sets since `listedSince` (a Redis Cluster's). */
  private listed = new Set<string>();
  private listedSince = 0;
  private readonly appends: RedisAppends;

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
    this.appends = new RedisAppends({ client, keys, keep, maxRooms, logger, events, stored: (room, at, fresh) => this.list(room, at, fresh) });
    // The outbox's other events keep their order with the messages' (SqliteStore commits them together).
    events?.precededBy(this.appends.send);
  }

  /** Before the first message: a store written by an earlier version gets its names set. */
  async upgrade(): Promise<void> {
    this.appends.send();
    const filled = Number(await this.client.eval(NAMES_UPGRADE_SCRIPT, { keys: [this.keys.rooms, this.keys.roomNames] }));
    if (filled > 0) this.logger.info({ rooms: filled }, 'redis: listed the stored rooms by name');
  }

  /** Stored with the others of this turn, at its end (redis/appends.ts). */
  append(room: string, name: string, text: string, done: AppendCallback, user?: string): void {
    this.appends.add(room, name, text, done, user);
  }

  async recent(room: string, limit: number): Promise<HistoryMessage[]> {
    if (limit === 0) return [];
    return (await this.page(room, 'XREVRANGE', '+', '-', limit)).reverse();
  }

  async read(room: string, query: ReadQuery): Promise<StoredPage> {
    this.appends.send();
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
    this.appends.send();
    // No shape of an id, no message: Redis would refuse the id as a range bound.
    if (!isMessageId(change.id)) {
      done('not_found');
      return;
    }
    // Pipelined on the connection of the appends: a change is made after every message
    // appended before it, and answered after them. On a Redis Cluster a room's messages
    // may still wait for its script on the way (redis/appends.ts): the change waits too.
    const before = this.appends.answered(room);
    const made = before === undefined ? this.changeScript(room, change) : before.then(() => this.changeScript(room, change));
    made.then(
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
    this.appends.send();
    const key = readsKey(user);
    const markers = Object.entries((await this.client.hGetAll(key)) as Record<string, string>);
    const named = markers.map(([name, lastReadId]) => ({ name, lastReadId })).sort(byName);
    const rooms: UserRoom[] = [];
    const gone: string[] = [];
    // In pages of `limit`: a room with no stored messages (MAX_STORED_ROOMS let it go) is not listed.
    for (let i = 0; i < named.length && rooms.length < limit; i += limit) {
      const batch = named.slice(i, i + limit);
      const answers = await Promise.all(
        batch.map(({ name, lastReadId }) => this.run(UNREAD_SCRIPT, { keys: [this.keys.room(name).stream], arguments: [lastReadId] })),
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
    this.appends.send();
    const from = query.after === undefined ? '-' : `(${query.after}`;
    const flat = (await this.run(ROOMS_SCRIPT, { keys: [this.keys.roomNames, this.keys.rooms], arguments: [from, String(query.limit)] })) as string[];
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
    this.run(LISTED_SCRIPT, { keys: [this.keys.rooms, this.keys.roomNames], arguments: [room, String(at), String(this.maxRooms), kept ? '0' : '1'] }).then((gone) => {
      const flat = gone as string[];
      for (let i = 0; i + 1 < flat.length; i += 2) this.letGo(String(flat[i]), Number(flat[i + 1]));
    }, this.notListed(room));
  }

  /** Deletes the keys of a room that left the room sets at `listedAt`, or lists it again if a newer message came. */
  private letGo(room: string, listedAt: number): void {
    this.listed.delete(room);
    const { stream, changes, reactions } = this.keys.room(room);
    this.run(LET_GO_SCRIPT, { keys: [stream, changes, reactions], arguments: [String(listedAt)] }).then((newer) => {
      if (newer !== null) this.list(room, Number(newer), true, true);
    }, this.notListed(room));
  }

  private notListed(room: string) {
    return (err: unknown) => this.logger.debug({ err: err instanceof Error ? err.message : String(err), room }, 'redis: room sets not updated');
  }

  /** Runs a script; on a Redis Cluster, again while its slot is moving (try-again.ts). */
  private run(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.keys.clustered ? tryingAgain(() => this.client.eval(script, options)) : this.client.eval(script, options);
  }

  /** Up to `count` entries of `room` from `from` to `to` (XRANGE or XREVRANGE), as they are now. */
  private async page(room: string, command: 'XRANGE' | 'XREVRANGE', from: string, to: string, count: number): Promise<HistoryMessage[]> {
    this.appends.send();
    const { stream, changes, reactions } = this.keys.room(room);
    const reply = await this.run(PAGE_SCRIPT, { keys: [stream, changes, reactions], arguments: [command, from, to, String(count)] });
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
          ? this.run(EDIT_RECORDING_SCRIPT, { keys: [stream, changes, WEBHOOKS_KEY], arguments: [...args, room] })
          : this.run(EDIT_SCRIPT, { keys: [stream, changes], arguments: args }));
        break;
      }
      case 'delete': {
        const keys = [stream, changes, reactions, rewrite];
        const args = [change.id, ...actorArgs(change.by)];
        reply = await (recording
          ? this.run(DELETE_RECORDING_SCRIPT, { keys: [...keys, WEBHOOKS_KEY], arguments: [...args, room, String(Date.now())] })
          : this.run(DELETE_SCRIPT, { keys, arguments: args }));
        break;
      }
      case 'react':
        reply = await this.run(REACT_SCRIPT, {
          keys: [stream, reactions],
          arguments: [change.id, change.emoji, change.user, change.on ? '1' : '0', String(MAX_REACTIONS), keep],
        });
        break;
      case 'read':
        if (Number(await this.run(LIVE_SCRIPT, { keys: [stream], arguments: [change.id] })) !== 1) return ['not_found'];
        reply = ['ok', await this.run(MARK_SCRIPT, { keys: [readsKey(change.user)], arguments: [change.id, room] })];
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
