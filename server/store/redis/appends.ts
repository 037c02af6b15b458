/**
 * How the Redis store stores new messages: the messages of one turn of the event loop
 * go in one script at its end (APPEND_SCRIPT; on a Redis Cluster one per room:
 * CLUSTER_APPEND_SCRIPT), not one each. Why: a command is a round trip and a wake-up for
 * Redis and for the node, whatever it carries (BENCHMARKS.md, issue #24). The store's
 * other commands send the waiting messages first (`send`), so that Redis runs everything
 * in the order asked.
 *
 * Redis being down is an outage the nodes ride out (docs/deploy.md, "When things fail"): a
 * message is then stamped with a local id (outageIds) and delivered to this node's
 * clients, but not stored.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULT_ROOM, type ChatMessage } from '../../protocol';
import { atTurnEnd } from '../../support/turn-end';
import type { AppendCallback } from '../message-store';
import { MessageIdGenerator } from '../message-id';
import type { RedisCommands } from './commands';
import { HISTORY_KEY, IDS_KEY, WEBHOOKS_KEY, type KeyLayout } from './keys';
import type { RedisOutbox } from './outbox';
import { APPEND_SCRIPT, CLUSTER_APPEND_SCRIPT } from './scripts';
import { tryingAgain } from './try-again';

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

/** A message given to `add`, stored at the end of its turn. */
interface WaitingAppend {
  room: string;
  name: string;
  text: string;
  at: number;
  user: string | undefined;
  done: AppendCallback;
}

/**
 * At most this many messages per script: a script holds Redis for every other client
 * while it runs, so a turn of thousands of messages goes in several.
 */
const MAX_APPENDS_PER_SCRIPT = 100;

function* inParts<T>(items: readonly T[]): Iterable<readonly T[]> {
  for (let i = 0; i < items.length; i += MAX_APPENDS_PER_SCRIPT) yield items.slice(i, i + MAX_APPENDS_PER_SCRIPT);
}

export interface RedisAppendsOptions {
  client: RedisCommands;
  keys: KeyLayout;
  /** HISTORY_KEEP. */
  keep: number;
  /** MAX_STORED_ROOMS (0: no bound); on a Redis Cluster the store applies it (`stored`). */
  maxRooms: number;
  logger: Logger;
  /** The webhook outbox each message's event goes in with it (one Redis only). */
  events?: RedisOutbox | undefined;
  /** On a Redis Cluster: messages of `room` were stored, the newest sent at `at`; `fresh` when its stream is new. */
  stored(room: string, at: number, fresh: boolean): void;
}

export class RedisAppends {
  private readonly fallbackIds = outageIds();
  /** This turn's messages. */
  private waiting: WaitingAppend[] = [];
  /**
   * On a Redis Cluster, rooms with a script on its way: the messages given since, and what
   * waits for the script on its way (`current`) or for those messages (`next`) to be answered.
   */
  private readonly inFlight = new Map<string, { waiting: WaitingAppend[]; current: (() => void)[]; next: (() => void)[] }>();

  constructor(private readonly options: RedisAppendsOptions) {}

  /** Stores a message with the others of this turn; `done` hears its id, in the order given. */
  add(room: string, name: string, text: string, done: AppendCallback, user?: string): void {
    if (this.waiting.length === 0) atTurnEnd(this.send);
    this.waiting.push({ room, name, text, at: Date.now(), user, done });
  }

  /** Sends the messages waiting for the end of the turn, if any. */
  readonly send = (): void => {
    const appends = this.waiting;
    if (appends.length === 0) return;
    this.waiting = [];
    if (!this.options.keys.clustered) {
      for (const part of inParts(appends)) this.answer(part, this.options.client.eval(APPEND_SCRIPT, this.command(part)) as Promise<string[]>);
      return;
    }
    // A script touches one slot: each room's messages go in one of their own.
    const byRoom = new Map<string, WaitingAppend[]>();
    for (const append of appends) {
      const same = byRoom.get(append.room);
      if (same === undefined) byRoom.set(append.room, [append]);
      else same.push(append);
    }
    for (const [room, same] of byRoom) {
      const known = this.inFlight.get(room);
      if (known === undefined) this.sendRoom(room, same, []);
      else known.waiting.push(...same);
    }
  };

  /**
   * Sends a room's messages on a Redis Cluster, one script of the room at a time: the
   * messages given meanwhile wait and go together in the next. So ids follow the order
   * given even when Redis answers TRYAGAIN while the room's slot moves between masters
   * and the script is sent again (try-again.ts): no later script of the room is on its
   * way to take ids before it.
   */
  private sendRoom(room: string, appends: readonly WaitingAppend[], current: (() => void)[]): void {
    const part = appends.slice(0, MAX_APPENDS_PER_SCRIPT);
    const known = { waiting: appends.slice(MAX_APPENDS_PER_SCRIPT), current, next: [] as (() => void)[] };
    this.inFlight.set(room, known);
    const stored = tryingAgain(() => this.clusterAppend(room, part));
    this.answer(part, stored);
    const next = () => {
      if (known.waiting.length > 0) {
        for (const then of known.current) then();
        this.sendRoom(room, known.waiting, known.next);
        return;
      }
      this.inFlight.delete(room);
      for (const then of [...known.current, ...known.next]) then();
    };
    stored.then(next, next);
  }

  /**
   * On a Redis Cluster, resolves once the messages of `room` given so far are answered
   * (undefined when none is on its way): a change sent after them finds them.
   */
  answered(room: string): Promise<void> | undefined {
    const known = this.inFlight.get(room);
    if (known === undefined) return undefined;
    return new Promise((resolve) => (known.waiting.length === 0 ? known.current : known.next).push(resolve));
  }

  /** CLUSTER_APPEND_SCRIPT for `appends` of `room`; answers their ids. */
  private clusterAppend(room: string, appends: readonly WaitingAppend[]): Promise<string[]> {
    const { client, keys, keep } = this.options;
    const ids = keys.ids(room);
    const args = [String(keep), String(ids.slot)];
    for (const { name, text, at, user } of appends) args.push(name, text, String(at), user === undefined ? '' : `u${user}`);
    return client.eval(CLUSTER_APPEND_SCRIPT, { keys: [ids.key, keys.room(room).stream], arguments: args }).then((reply) => {
      const [fresh, newIds] = reply as [number, string[]];
      this.options.stored(room, (appends[appends.length - 1] as WaitingAppend).at, Number(fresh) === 1);
      return newIds;
    });
  }

  /** APPEND_SCRIPT's keys and arguments for `appends`. */
  private command(appends: readonly WaitingAppend[]): { keys: string[]; arguments: string[] } {
    const { keys: layout, keep, maxRooms } = this.options;
    const recording = this.options.events !== undefined;
    // One Redis: one ids stream for every room.
    const keys = [IDS_KEY, layout.rooms, layout.roomNames, recording ? WEBHOOKS_KEY : IDS_KEY];
    const args = [String(keep), String(maxRooms), DEFAULT_ROOM, HISTORY_KEY, recording ? '1' : '0'];
    for (const { room, name, text, at, user } of appends) {
      keys.push(layout.room(room).stream);
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
        this.options.logger.debug({ err: (err as Error).message, messages: appends.length }, 'history unavailable; local ids');
        for (const append of appends) {
          this.options.events?.noteLost('message.created', err);
          append.done(null, stamped(append, this.fallbackIds.next().id));
        }
      },
    );
  }
}
