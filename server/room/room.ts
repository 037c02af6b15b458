import type { Logger } from 'pino';
import { JOIN_TEXT, LEAVE_TEXT, type ChatMessage, type Notice, type NoticeKind, type Presence } from '../protocol';
import { History } from './history';
import { mergePresence, PresenceCount } from './presence';
import type { MessageStore } from './store';

/**
 * One transport's clients in one room: takes each stamped message or notice of the room
 * and gets it to them. A sink never calls another sink; everything goes through the
 * room, so every client of the room sees one order of events.
 */
export interface RoomSink {
  chat(message: ChatMessage): void;
  notice(notice: Notice): void;
  /**
   * True when this sink's own broadcast already reaches its clients on every node
   * (Socket.IO, through its cluster adapter): events from other nodes then skip it, so
   * its clients never get one twice.
   */
  readonly clusterWide?: boolean;
  /** The room leaves memory: let go of what is held for it. */
  dispose?(): void;
}

/** What one node tells the others about a room. */
export type RoomEvent =
  | { type: 'chat'; room: string; message: ChatMessage }
  | { type: 'notice'; room: string; notice: Notice };

/**
 * The other nodes, when there are several (server/cluster/link.ts). A room publishes
 * each event once; the bus carries it to the other nodes' rooms of the same name, which
 * hand it to their sinks that are not cluster-wide (the raw clients).
 */
export interface RoomBus {
  /** Tells the other nodes about an event, with who is in the room on this node now. */
  publish(event: RoomEvent, local: PresenceCount): void;
  /** Who is in `room` on each other node, as last heard within the heartbeat window. */
  remote(room: string): Iterable<Iterable<[string, number]>>;
  /** How many connections `room` has on the other nodes (the sum of `remote`, cheaply). */
  remoteOnline(room: string): number;
}

export interface RoomOptions {
  name: string;
  historySize: number;
  /** Bytes of message text the history may hold (HISTORY_BYTES). */
  historyBytes: number;
  store: MessageStore;
  sinks: readonly RoomSink[];
  logger: Logger;
  bus?: RoomBus | undefined;
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
  private readonly presence = new PresenceCount();
  private readonly store: MessageStore;
  private readonly sinks: readonly RoomSink[];
  private readonly bus: RoomBus | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;
  private quiet = false;
  /** Events still waiting for their stamp (a store that answers later); later ones wait behind. */
  private waiting = 0;
  /** Clients on their way in (the room's history still loading): the room must stay in memory. */
  private arriving = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(options: RoomOptions) {
    this.name = options.name;
    this.history = new History(options.historySize, options.historyBytes);
    this.store = options.store;
    this.sinks = options.sinks;
    this.bus = options.bus;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.emptySince = performance.now();
    const stored = this.store.load(this.name);
    if (Array.isArray(stored)) {
      this.keep(stored);
      this.ready = Promise.resolve();
    } else {
      this.ready = Promise.resolve(stored)
        .then((messages) => this.keep(messages))
        .catch((err: unknown) => {
          this.logger.warn({ room: this.name, err: (err as Error).message }, 'stored history unavailable; starting without it');
          this.loaded = true;
        });
    }
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
  abandon(): void {
    this.arriving = Math.max(0, this.arriving - 1);
    this.markIfEmpty();
  }

  /** Someone joined through any transport: everyone in the room, the newcomer included, is told. */
  join(name: string): Notice {
    this.arriving = Math.max(0, this.arriving - 1);
    this.presence.add(name);
    this.emptySince = 0;
    return this.announce('join', JOIN_TEXT, name);
  }

  /** Someone left: everyone still in the room is told. */
  leave(name: string): Notice {
    this.presence.remove(name);
    this.markIfEmpty();
    return this.announce('leave', LEAVE_TEXT, name);
  }

  /**
   * Stamps a message that its transport has already checked, hands it to `acknowledge`
   * (so a sender learns its id before the broadcast reaches it), keeps it in the history
   * and delivers it to the whole room, sender included.
   */
  post(name: string, text: string, acknowledge?: (message: ChatMessage) => void): void {
    const stamped = this.store.stamp(this.name, name, text);
    if (!(stamped instanceof Promise) && this.waiting === 0) {
      this.publishChat(stamped, acknowledge);
      return;
    }
    // A store that answers later (Redis) answers in the order asked: its requests are
    // pipelined on one connection. Publishing each only after the one before keeps one
    // sender's messages in order on this node, and the bus and the adapter each carry
    // them on one ordered channel, so every node delivers them in that order.
    this.inOrder(async () => this.publishChat(await stamped, acknowledge));
  }

  /** An event another node published in this room: the raw clients here are ours to serve. */
  receive(event: RoomEvent): void {
    if (event.type === 'chat') this.history.add(event.message);
    else if (this.quiet) return;
    for (const sink of this.sinks) {
      if (sink.clusterWide === true) continue;
      if (event.type === 'chat') sink.chat(event.message);
      else sink.notice(event.notice);
    }
  }

  /** The last messages, oldest first. */
  recent(): ChatMessage[] {
    return this.history.list();
  }

  /** The messages after `id`, oldest first, or null when `id` is unknown or too old. */
  since(id: string): ChatMessage[] | null {
    return this.history.after(id);
  }

  /** Who is here, on every node. */
  presenceNow(): Presence {
    return mergePresence([this.presence.entries(), ...(this.bus?.remote(this.name) ?? [])]);
  }

  /** This node's count per name, for the bus. */
  localPresence(): PresenceCount {
    return this.presence;
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
  }

  private markIfEmpty(): void {
    if (this.presence.online === 0 && this.arriving === 0) this.emptySince = performance.now();
  }

  private keep(messages: readonly ChatMessage[]): void {
    for (const message of messages) this.history.add(message);
    this.loaded = true;
  }

  private publishChat(message: ChatMessage, acknowledge?: (message: ChatMessage) => void): void {
    acknowledge?.(message);
    this.history.add(message);
    if (this.logger.isLevelEnabled('debug')) {
      this.logger.debug({ room: this.name, id: message.id, name: message.name, text: message.text }, 'chat');
    }
    for (const sink of this.sinks) sink.chat(message);
    this.bus?.publish({ type: 'chat', room: this.name, message }, this.presence);
  }

  private announce(kind: NoticeKind, text: string, name: string): Notice {
    // Not presenceNow(): a join storm would sort the whole member list once per join.
    const online = this.presence.online + (this.bus?.remoteOnline(this.name) ?? 0);
    const notice: Notice = { kind, text, name, online, at: this.now() };
    if (this.quiet) return notice;
    const deliver = () => {
      for (const sink of this.sinks) sink.notice(notice);
      this.bus?.publish({ type: 'notice', room: this.name, notice }, this.presence);
    };
    // Behind the messages still being stamped, so that this room's events keep their order.
    if (this.waiting === 0) deliver();
    else this.inOrder(async () => deliver());
    return notice;
  }

  private inOrder(step: () => Promise<void>): void {
    this.waiting += 1;
    this.tail = this.tail
      .then(step)
      .catch((err: unknown) => this.logger.error({ room: this.name, err }, 'publishing an event failed'))
      .finally(() => {
        this.waiting -= 1;
      });
  }
}
