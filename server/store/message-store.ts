import type { ChatMessage } from '../protocol';
import { jsonBytes } from '../support/json-bytes';

/** Told once what became of a message given to `MessageStore.append`. */
export type AppendCallback = (error: StoreUnavailableError | null, message: ChatMessage | null) => void;

/** A page of one room's stored messages, oldest first. */
export interface StoredPage {
  messages: ChatMessage[];
  /** False when `since` is not (or no longer) stored: messages before these may be missing. */
  complete: boolean;
  /**
   * Whether stored messages were left out by the page's bounds: after the last one when
   * reading after `since`, before the first one when reading the newest.
   */
  more: boolean;
}

/** What a read asks for: see MessageStore.read. */
export interface ReadQuery {
  since?: string | undefined;
  limit: number;
  /** At most this many bytes of messages as JSON, and at least one message when there is any. */
  maxBytes?: number;
}

/**
 * The first of `messages` that fit in `maxBytes` as JSON, at least one: a page is then
 * bounded in what it costs to send, whatever the messages hold.
 */
export function withinBytes(messages: ChatMessage[], maxBytes: number): ChatMessage[] {
  if (maxBytes === Number.POSITIVE_INFINITY) return messages;
  let bytes = 0;
  for (let i = 0; i < messages.length; i += 1) {
    bytes += jsonBytes(messages[i]);
    if (i > 0 && bytes > maxBytes) return messages.slice(0, i);
  }
  return messages;
}

/** A room that has stored messages. */
export interface StoredRoom {
  name: string;
  /** When its newest stored message was sent (epoch ms). */
  lastMessageAt: number;
}

/** Which rooms a listing asks for: the first `limit` by name, after the room `after` when given. */
export interface RoomQuery {
  after?: string | undefined;
  limit: number;
}

/** Orders rooms (or anything named) by name, as listings of rooms are. */
export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The store cannot take messages now (disk full, read-only, corrupt, removed): the
 * message is refused and nobody receives it. `reason` is for the operator's log.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'unavailable';
  constructor(readonly reason: string) {
    super(`message store unavailable: ${reason}`);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * What a durable store keeps at most: HISTORY_KEEP messages per room, MAX_STORED_ROOMS
 * rooms and MAX_STORED_BYTES of messages (0: no bound). Redis applies the first two.
 */
export interface StoreBounds {
  keep: number;
  maxRooms: number;
  maxBytes: number;
}

/**
 * Where messages get their ids and are kept, per room: the one seam between a room and
 * its storage, with three implementations (memory, SQLite, Redis streams). The room does
 * not know which one it has.
 *
 * Reads may answer at once (a value) or later (a promise): in memory and in SQLite
 * nothing needs waiting for, and the caller then goes on in the same turn, without a
 * promise per call on the hot path.
 */
export interface MessageStore {
  /**
   * Stamps a new message of `room` (its id is unique across rooms, and greater than any
   * id stored before in that room, across restarts) and stores it. `done` is called
   * once the message is stored as durably as this store promises (SQLite: committed, so
   * it survives `kill -9`), or with the reason it was refused. Messages given in one
   * order are answered in that order; an in-memory store answers before returning.
   */
  append(room: string, name: string, text: string, done: AppendCallback): void;
  /** The newest `limit` messages of `room`, oldest first: the history of a room coming into memory. */
  recent(room: string, limit: number): readonly ChatMessage[] | Promise<readonly ChatMessage[]>;
  /**
   * Up to `limit` messages of `room`, oldest first, within `maxBytes` as JSON: after the
   * message `since` when given (the first of those), else the newest. Reads no more than
   * the page needs, however large the messages.
   */
  read(room: string, query: ReadQuery): StoredPage | Promise<StoredPage>;
  /** The rooms that have stored messages, by name: the first `query.limit` after `query.after`. */
  rooms(query: RoomQuery): readonly StoredRoom[] | Promise<readonly StoredRoom[]>;
  /** Why messages are refused now, or null while they are taken (for /readyz). */
  problem(): string | null;
  /**
   * A message another node stored (WORKERS > 1 without Redis): a store of this node's
   * memory only keeps it too, so that it answers like the others' stores.
   */
  observe?(room: string, message: ChatMessage): void;
  /** A room left memory: a store that keeps only what is in memory may let it go. */
  forget?(room: string): void;
  close(): void | Promise<void>;
}
