import type { Logger } from 'pino';
import { JOIN_TEXT, LEAVE_TEXT, type ChatMessage, type HistoryMessage, type Notice, type NoticeKind, type Presence } from '../protocol';
import { History } from '../store/history';
import {
  StoreUnavailableError,
  type ChangeCallback,
  type MessageChange,
  type MessageStore,
  type StoredPage,
} from '../store/message-store';
import { CatchUp } from './catch-up';
import { wellFormed } from './chat-text';
import { loadRecent, readAfter, storedAfter } from './stored-history';
import { mergePresence, PresenceCount } from './presence';
import { changeEventOf, changeResultOf, type PostOutcome, type Reader, type RoomBus, type RoomEvent, type RoomSink, type Who } from './room-seams';

/** The most one page of older history holds as JSON (at least one message). */
export const OLDER_PAGE_BYTES = 1024 * 1024;

/** An event that waits for the message before it (still being stored) to be published. */
type Queued =
  | { type: 'chat'; settled: boolean; message: ChatMessage | null; error: StoreUnavailableError | null; outcome: PostOutcome | undefined }
  | { type: 'notice'; settled: true; deliver: () => void }
  | { type: 'change'; settled: boolean; result: Parameters<ChangeCallback>[0] | null; reader: Reader | undefined; done: ChangeCallback };

export interface RoomOptions {
  name: string;
  historySize: number;
  /** Bytes of messages as JSON the history may hold (HISTORY_BYTES). */
  historyBytes: number;
  store: MessageStore;
  sinks: readonly RoomSink[];
  logger: Logger;
  bus?: RoomBus | undefined;
  /**
   * Resolves once the other nodes' events of this room reach this node (RoomBus.listen):
   * the stored history is read after it, so that nothing falls between the two.
   */
  heard?: Promise<void> | undefined;
  now?: () => number;
}

/**
 * A chat room. It stamps messages through the store, keeps the recent history, counts
 * who is in it across every transport (and every node, through the bus), and publishes
 * each event once to every sink. It knows nothing of sockets.
 */
export class Room {
  readonly name: string;
  /** Resolves once the stored history is in memory; `loaded` says whether it already is. */
  readonly ready: Promise<void>;
  loaded = false;
  /** When the last client here left (performance.now()); 0 while anyone is here. */
  emptySince: number;
  private readonly history: History;
  /** Catching up when the bus lost another node's events (catchUp). */
  private readonly missed: CatchUp;
  private readonly presence = new PresenceCount();
  /**
   * Who is here as the room's published notices tell it: `presence` once the joins and
   * leaves still queued behind a message being stored have gone out. A newcomer is sent
   * this, so that the notices it receives next (those queued ones included) bring its
   * list up to date instead of counting someone twice.
   */
  private readonly announced = new PresenceCount();
  private readonly store: MessageStore;
  private readonly sinks: readonly RoomSink[];
  private readonly bus: RoomBus | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;
  private quiet = false;
  /**
   * Events in the order they happened, while a message at the head is still being
   * stored (SQLite: until the end of the turn; Redis: until it answers). Empty most of
   * the time with an in-memory store, which answers at once.
   */
  private readonly queue: Queued[] = [];
  private draining = false;
  /** Clients on their way in (the room's history still loading): the room must stay in memory. */
  private arriving = 0;

  constructor(options: RoomOptions) {
    this.name = options.name;
    this.history = new History(options.historySize, options.historyBytes);
    this.store = options.store;
    this.sinks = options.sinks;
    this.bus = options.bus;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.emptySince = performance.now();
    this.missed = new CatchUp({
      room: this.name,
      read: (since) => readAfter(this.store, this.name, since),
      shown: (id) => this.history.has(id),
      deliver: (event) => this.deliverRemote(event),
      logger: this.logger,
    });
    const unavailable = (err: unknown) => {
      this.logger.warn({ room: this.name, err: (err as Error).message }, 'stored history unavailable; starting without it');
      this.loaded = true;
    };
    const stored = loadRecent(this.store, this.name, options.historySize, options.heard, unavailable);
    if (Array.isArray(stored)) {
      this.keep(stored);
      this.ready = Promise.resolve();
    } else this.ready = (stored as Promise<readonly HistoryMessage[]>).then((messages) => this.keep(messages));
  }

  /** Clients in this room on this node. */
  get localOnline(): number {
    return this.presence.online;
  }

  /**
   * A client is on its way in: from now until it joins (or gives up), the room counts as
   * used and does not leave memory, so that it joins the room it was admitted to.
   */
  arrive(): void {
    this.arriving += 1;
    this.emptySince = 0;
  }

  /** A client that arrived went away before it joined. */
  cancelArrival(): void {
    this.arriving = Math.max(0, this.arriving - 1);
    this.markIfEmpty();
  }

  /**
   * Someone joined through any transport: everyone in the room, the newcomer included, is
   * told. `user`: with JWT, the token's `sub` (presence counts users, not names).
   */
  join(name: string, user?: string): Notice {
    this.arriving = Math.max(0, this.arriving - 1);
    this.presence.add(name, user);
    this.emptySince = 0;
    this.store.events?.member(this.name, { key: user ?? name, name, user }, 1, this.now());
    return this.announce('join', JOIN_TEXT, name, user);
  }

  /** Someone left: everyone still in the room is told. */
  leave(name: string, user?: string): Notice {
    this.presence.remove(name, user);
    this.markIfEmpty();
    this.store.events?.member(this.name, { key: user ?? name, name, user }, -1, this.now());
    return this.announce('leave', LEAVE_TEXT, name, user);
  }

  /**
   * Stores a message that its transport has already checked and, once it is stored,
   * tells the sender (`outcome.accepted`, so a sender learns its id before the broadcast
   * reaches it), keeps it in the history and delivers it to the whole room, sender
   * included. A message the store refuses reaches nobody (`outcome.refused`).
   */
  post(name: string, text: string, outcome?: PostOutcome, user?: string): void {
    const slot: Queued = { type: 'chat', settled: false, message: null, error: null, outcome };
    this.queue.push(slot);
    // A store answers in the order asked (SQLite: one transaction per turn; Redis: its
    // requests are pipelined on one connection). Publishing each message only after the
    // ones before keeps one sender's messages in order on this node, and the bus and the
    // adapter each carry them on one ordered channel, so every node delivers them in
    // that order.
    this.store.append(
      this.name,
      name,
      wellFormed(text),
      (error, message) => {
        slot.settled = true;
        slot.error = error;
        slot.message = message;
        this.drain();
      },
      user,
    );
  }

  /**
   * Makes a change to one of this room's messages (or a read marker, set by `reader`),
   * in order with this room's other events: the store keeps it, `done` hears the outcome
   * first, then (when made) everyone in the room on every node is told, and the history
   * shows it. A change the store refuses or cannot make reaches nobody.
   */
  change(change: MessageChange, done: ChangeCallback, reader?: Reader): void {
    const slot: Queued = { type: 'change', settled: false, result: null, reader, done };
    this.queue.push(slot);
    try {
      this.store.change(this.name, change, (result) => {
        slot.settled = true;
        slot.result = result;
        this.drain();
      });
    } catch (err) {
      slot.settled = true;
      slot.result = err instanceof StoreUnavailableError ? err : new StoreUnavailableError((err as Error).message);
      this.drain();
    }
  }

  /**
   * A page of older history: up to `limit` messages before the message `before` (the
   * newest when undefined), oldest first, at most OLDER_PAGE_BYTES as JSON, read from the
   * store (it may answer later). Throws or rejects with StoreUnavailableError.
   */
  older(before: string | undefined, limit: number): StoredPage | Promise<StoredPage> {
    return this.store.read(this.name, { before, limit, maxBytes: OLDER_PAGE_BYTES });
  }

  /**
   * A moderator's kick: `user`'s connections to this room end, on this node now and on
   * the others through the bus. Answers how many ended here.
   */
  kick(user: string, reason: string): number {
    this.bus?.publish({ type: 'kick', room: this.name, user, reason }, this.presence);
    return this.endHere((who) => who.user === user, reason, false);
  }

  /** Ends this node's connections here that `match` picks (see RoomSink.end); answers how many. */
  endHere(match: (who: Who) => boolean, reason: string, banned: boolean): number {
    let ended = 0;
    for (const sink of this.sinks) ended += sink.end?.(match, reason, banned) ?? 0;
    return ended;
  }

  /** An event another node published in this room: the raw clients here are ours to serve. */
  receive(event: RoomEvent): void {
    if (!this.missed.takes(event)) this.deliverRemote(event);
  }

  /**
   * Some of another node's events of this room were lost on the way (the bus saw a gap):
   * the stored chats after `since`, the last one heard from that node, are shown first.
   */
  catchUp(since: string | undefined): void {
    this.missed.start(since ?? this.history.newest()?.id);
  }

  private deliverRemote(event: RoomEvent): void {
    if (event.type === 'kick') {
      this.endHere((who) => who.user === event.user, event.reason, false);
      return;
    }
    if (event.type === 'chat') {
      this.history.add(event.message);
      this.store.observe?.(this.name, event.message);
    } else if (event.type === 'change') {
      const result = changeResultOf(event.change);
      this.history.change(result);
      this.store.observeChange?.(this.name, result);
    } else if (this.quiet) return;
    for (const sink of this.sinks) {
      if (sink.clusterWide === true) continue;
      if (event.type === 'chat') sink.chat(event.message);
      else if (event.type === 'notice') sink.notice(event.notice);
      else sink.change?.(event.change);
    }
  }

  /** The last messages (tombstones included), oldest first. */
  recent(): HistoryMessage[] {
    return this.history.list();
  }

  /**
   * The chat messages after `id`, oldest first, as many as fit in `maxBytes` as JSON (at
   * least one; none once caught up), or null when `id` is unknown or too old. Past the
   * history in memory the store is asked (`fromStore`), so that a client may resume
   * across a restart or a long absence: SQLite answers now, Redis later. Only an answer
   * given now lets a caller that finds nothing more join in the same turn, missing nothing.
   */
  messagesAfter(id: string, maxBytes: number, fromStore = true): HistoryMessage[] | null | Promise<HistoryMessage[] | null> {
    const recent = this.history.after(id, maxBytes);
    return recent !== null || !fromStore ? recent : storedAfter(this.store, this.name, id, maxBytes);
  }

  /** Who is here, on every node, as the notices published so far tell it (see `announced`). */
  presenceNow(): Presence {
    return mergePresence([this.announced, ...(this.bus?.remote(this.name) ?? [])]);
  }

  /**
   * Who is here on this node as its published notices tell it, for the bus: the other
   * nodes compare it with the notices they heard, so it must not run ahead of them.
   */
  localPresence(): PresenceCount {
    return this.announced;
  }

  /**
   * Someone on another node came or went and no notice of theirs will reach this node's
   * clients (that node died or left, or its notices were lost): this node tells its own
   * clients of both kinds, as every other node does for its own.
   */
  noticeHere(kind: NoticeKind, name: string, user?: string): void {
    if (this.quiet) return;
    const notice = this.notice(kind, kind === 'join' ? JOIN_TEXT : LEAVE_TEXT, name, user);
    const deliver = () => {
      for (const sink of this.sinks) sink.notice(notice, true);
    };
    if (this.queue.length === 0) deliver();
    else this.queue.push({ type: 'notice', settled: true, deliver });
  }

  /**
   * From now on joins and leaves still count but are not announced. Used on shutdown:
   * telling each of N departing clients about the N others is quadratic noise that
   * nobody stays to read.
   */
  silenceNotices(): void {
    this.quiet = true;
  }

  /** The room leaves memory. */
  dispose(): void {
    for (const sink of this.sinks) sink.dispose?.();
    this.store.forget?.(this.name);
  }

  private markIfEmpty(): void {
    if (this.presence.online === 0 && this.arriving === 0) this.emptySince = performance.now();
  }

  private keep(messages: readonly HistoryMessage[]): void {
    for (const message of messages) this.history.add(message);
    this.loaded = true;
  }

  /** Publishes the events at the head of the queue whose turn has come. */
  private drain(): void {
    if (this.draining) return; // a sink that posts from inside a delivery: the loop below takes it
    this.draining = true;
    try {
      while (this.queue.length > 0 && (this.queue[0] as Queued).settled) {
        const event = this.queue.shift() as Queued;
        try {
          if (event.type === 'notice') event.deliver();
          else if (event.type === 'change') this.publishChange(event.result as Parameters<ChangeCallback>[0], event.done, event.reader);
          else if (event.message !== null) this.publishChat(event.message, event.outcome);
          else event.outcome?.refused?.(event.error as StoreUnavailableError);
        } catch (err) {
          this.logger.error({ room: this.name, err }, 'publishing an event failed');
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private publishChat(message: ChatMessage, outcome: PostOutcome | undefined): void {
    outcome?.accepted?.(message);
    this.history.add(message);
    if (this.logger.isLevelEnabled('debug')) {
      this.logger.debug({ room: this.name, id: message.id, name: message.name, text: message.text }, 'chat');
    }
    for (const sink of this.sinks) sink.chat(message);
    this.bus?.publish({ type: 'chat', room: this.name, message }, this.presence);
  }

  private publishChange(result: Parameters<ChangeCallback>[0], done: ChangeCallback, reader: Reader | undefined): void {
    done(result);
    if (typeof result === 'string' || result instanceof StoreUnavailableError) return;
    this.history.change(result);
    const change = changeEventOf(result, reader);
    for (const sink of this.sinks) sink.change?.(change);
    this.bus?.publish({ type: 'change', room: this.name, change }, this.presence);
  }

  /** A notice counting everyone on every node now; without JWT it has no `user` field at all, not even an undefined one. */
  private notice(kind: NoticeKind, text: string, name: string, user: string | undefined): Notice {
    // Not presenceNow(): a join storm would sort the whole member list once per join.
    const online = this.presence.online + (this.bus?.remoteOnline(this.name) ?? 0);
    const at = this.now();
    return user === undefined ? { kind, text, name, online, at } : { kind, text, name, user, online, at };
  }

  private announce(kind: NoticeKind, text: string, name: string, user: string | undefined): Notice {
    const notice = this.notice(kind, text, name, user);
    const publish = () => {
      if (kind === 'join') this.announced.add(name, user);
      else this.announced.remove(name, user);
    };
    if (this.quiet) {
      publish();
      return notice;
    }
    const deliver = () => {
      publish();
      for (const sink of this.sinks) sink.notice(notice);
      this.bus?.publish({ type: 'notice', room: this.name, notice }, this.presence);
    };
    // Behind the messages still being stored, so that this room's events keep their order.
    if (this.queue.length === 0) deliver();
    else this.queue.push({ type: 'notice', settled: true, deliver });
    return notice;
  }
}

