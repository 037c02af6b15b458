import type { Logger } from 'pino';
import { DEFAULT_ROOM, type Presence } from '../protocol';
import { mergePresence } from './presence';
import { Room } from './room';
import type { RoomBus, RoomEvent, RoomSink } from './room-seams';
import type { MessageStore } from '../store/message-store';
import { withDeadline } from '../support/deadline';

/** How long a room nobody is in stays in memory (for its history, and a quick return). */
export const ROOM_IDLE_MS = 60_000;

/**
 * How long a room coming into memory waits to hear the other nodes (its subscriptions,
 * RoomBus.listen and RoomSink.ready) before its first clients join anyway: Redis may be down.
 */
const HEAR_TIMEOUT_MS = 2_000;

/** Builds one transport's sink for a room coming into memory. */
export type SinkFactory = (room: string) => RoomSink;

export interface RoomsOptions {
  /** MAX_ROOMS: rooms held in memory at once. */
  maxRooms: number;
  historySize: number;
  historyBytes: number;
  store: MessageStore;
  logger: Logger;
  idleMs?: number;
}

/**
 * Every room this node holds in memory, by name: a room with clients in it, or one that
 * was used recently. Rooms come into memory on first use and leave it after ROOM_IDLE_MS
 * with nobody in them, or at once when a new room needs the place: at most MAX_ROOMS are
 * held, and only a node whose MAX_ROOMS rooms all have clients refuses a new one. The
 * lobby, the seed's one room, is always open and never leaves memory.
 */
export class Rooms {
  private readonly rooms = new Map<string, Room>();
  private readonly sinkFactories: SinkFactory[] = [];
  private readonly options: RoomsOptions;
  private readonly idleMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private bus: RoomBus | undefined;
  private messageStore: MessageStore;
  private quiet = false;

  constructor(options: RoomsOptions) {
    this.options = options;
    this.messageStore = options.store;
    this.idleMs = options.idleMs ?? ROOM_IDLE_MS;
    this.sweeper = setInterval(() => this.dropIdle(), Math.max(this.idleMs / 2, 10));
    this.sweeper.unref();
  }

  /**
   * The store the rooms use now: with Redis, the shared one joinCluster brought, not the
   * one they were built with. Readers of stored history (the HTTP API) ask here.
   */
  get store(): MessageStore {
    return this.messageStore;
  }

  /** Rooms in memory now. */
  get size(): number {
    return this.rooms.size;
  }

  /** A transport's part of every room, from now on (call before the first room opens). */
  addSinks(factory: SinkFactory): void {
    this.sinkFactories.push(factory);
  }

  /**
   * This node is one of several: every room publishes to, and counts, the other nodes,
   * and stores its messages in the shared store, if there is one. Only before the first
   * room opens.
   */
  joinCluster(bus: RoomBus, store?: MessageStore): void {
    if (this.rooms.size > 0) throw new Error('joinCluster comes before the first room opens');
    this.bus = bus;
    if (store !== undefined) this.messageStore = store;
  }

  /** The room, if it is in memory. */
  get(name: string): Room | undefined {
    return this.rooms.get(name);
  }

  /** The room `name` (a well-formed name), brought into memory if need be; null when no place is free. */
  open(name: string): Room | null {
    const existing = this.rooms.get(name);
    if (existing !== undefined) return existing;
    // The lobby counts whether it is in memory yet or not: its place is always kept.
    const held = this.rooms.size + (this.rooms.has(DEFAULT_ROOM) ? 0 : 1);
    if (name !== DEFAULT_ROOM && held >= this.options.maxRooms && !this.dropLongestEmpty()) return null;
    const sinks = this.sinkFactories.map((factory) => factory(name));
    const hearing = [this.bus?.listen?.(name), ...sinks.map((sink) => sink.ready)].filter((ready) => ready !== undefined);
    const room = new Room({
      name,
      historySize: this.options.historySize,
      historyBytes: this.options.historyBytes,
      store: this.messageStore,
      sinks,
      logger: this.options.logger,
      bus: this.bus,
      heard: hearing.length === 0 ? undefined : withDeadline(Promise.all(hearing), HEAR_TIMEOUT_MS).then(() => undefined),
    });
    if (this.quiet) room.silenceNotices();
    this.rooms.set(name, room);
    return room;
  }

  /** An event of another node: delivered to this node's clients of that room, if it can be held. */
  receive(event: RoomEvent): void {
    this.open(event.room)?.receive(event);
  }

  /** Who is in `name` on every node: its room here, or (not in memory) what the other nodes told of it. */
  presence(name: string): Presence {
    return this.rooms.get(name)?.presenceNow() ?? mergePresence([...(this.bus?.remote(name) ?? [])]);
  }

  /** How many are in `name` on every node (presence's `online`, cheaply). */
  online(name: string): number {
    return (this.rooms.get(name)?.localPresence().online ?? 0) + (this.bus?.remoteOnline(name) ?? 0);
  }

  /** Every room in memory. */
  all(): IterableIterator<Room> {
    return this.rooms.values();
  }

  /** Shutdown: joins and leaves are no longer announced in any room (see Room.silenceNotices). */
  silenceNotices(): void {
    this.quiet = true;
    for (const room of this.rooms.values()) room.silenceNotices();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private dropIdle(): void {
    const oldest = performance.now() - this.idleMs;
    for (const room of this.rooms.values()) {
      if (room.name !== DEFAULT_ROOM && room.emptySince !== 0 && room.emptySince <= oldest) this.drop(room);
    }
  }

  /** Makes a place by dropping the room that has been empty longest; false when every room has clients. */
  private dropLongestEmpty(): boolean {
    let longest: Room | undefined;
    for (const room of this.rooms.values()) {
      if (room.name === DEFAULT_ROOM || room.emptySince === 0) continue;
      if (longest === undefined || room.emptySince < longest.emptySince) longest = room;
    }
    if (longest === undefined) return false;
    this.drop(longest);
    return true;
  }

  private drop(room: Room): void {
    this.rooms.delete(room.name);
    this.bus?.unlisten?.(room.name);
    room.dispose();
    this.options.logger.debug({ room: room.name }, 'room left memory');
  }
}
