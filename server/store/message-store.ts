import type { ChatMessage, HistoryMessage, MessageDelete, MessageEdit, Reaction, UserRoom } from '../protocol';
import { jsonBytes } from '../support/json-bytes';
import type { EventOutbox } from './event-outbox';

/** Told once what became of a message given to `MessageStore.append`. */
export type AppendCallback = (error: StoreUnavailableError | null, message: ChatMessage | null) => void;

/** A page of one room's stored messages (tombstones included), oldest first. */
export interface StoredPage {
  messages: HistoryMessage[];
  /** False when `since` is not (or no longer) stored: messages before these may be missing. */
  complete: boolean;
  /**
   * Whether stored messages were left out by the page's bounds: after the last one when
   * reading after `since`, before the first one when reading the newest or before `before`.
   */
  more: boolean;
}

/** What a read asks for: see MessageStore.read. `since` and `before` do not go together. */
export interface ReadQuery {
  since?: string | undefined;
  before?: string | undefined;
  limit: number;
  /** At most this many bytes of messages as JSON, and at least one message when there is any. */
  maxBytes?: number;
}

/**
 * The first of `messages` that fit in `maxBytes` as JSON, at least one: a page is then
 * bounded in what it costs to send, whatever the messages hold.
 */
export function withinBytes<M extends HistoryMessage>(messages: M[], maxBytes: number): M[] {
  if (maxBytes === Number.POSITIVE_INFINITY) return messages;
  let bytes = 0;
  for (let i = 0; i < messages.length; i += 1) {
    bytes += jsonBytes(messages[i]);
    if (i > 0 && bytes > maxBytes) return messages.slice(0, i);
  }
  return messages;
}

/**
 * Who may change a message: `any` (its author already proven, a moderator, an admin, the
 * API), the user with this `sub` (JWT: the author only), or `none` (a connection without
 * JWT that did not send it: refused, as not_found or forbidden).
 */
export type Actor = 'any' | 'none' | { user: string };

/** A change to a stored message, or a read marker: kept in the room's order with its new messages. */
export type MessageChange =
  | { kind: 'edit'; id: string; text: string; by: Actor; at: number }
  | { kind: 'delete'; id: string; by: Actor }
  /** `user`: who reacts (with JWT the `sub`, else the name); `on`: add, or take back. */
  | { kind: 'react'; id: string; user: string; emoji: string; on: boolean }
  /** A marker only moves forward: an older id leaves it where it is. */
  | { kind: 'read'; id: string; user: string };

/** What a change became, as the room tells it (see the protocol's events of the same names). */
export type ChangeResult =
  | ({ kind: 'edit' } & MessageEdit)
  | ({ kind: 'delete' } & MessageDelete)
  | ({ kind: 'reaction' } & Reaction)
  /** `user`'s marker now (a later one stays). */
  | { kind: 'read'; id: string; user: string };

/** Why a change was not made. */
export type ChangeRefusal = 'not_found' | 'forbidden' | 'too_many_reactions';

/**
 * Told once what became of a change given to `MessageStore.change`: its result, or why
 * it was refused, or (`StoreUnavailableError`) that the store could not take it.
 */
export type ChangeCallback = (outcome: ChangeResult | ChangeRefusal | StoreUnavailableError) => void;

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
  append(room: string, name: string, text: string, done: AppendCallback, user?: string): void;
  /** The newest `limit` messages of `room`, oldest first: the history of a room coming into memory. */
  recent(room: string, limit: number): readonly HistoryMessage[] | Promise<readonly HistoryMessage[]>;
  /**
   * Up to `limit` messages of `room`, oldest first, within `maxBytes` as JSON: after the
   * message `since` when given (the first of those), else the newest (before the message
   * `before` when given, whether or not that one is stored). Reads no more than the page
   * needs, however large the messages. Messages show their latest version; deleted ones
   * are tombstones.
   */
  read(room: string, query: ReadQuery): StoredPage | Promise<StoredPage>;
  /**
   * Makes `change` to a message of `room`, in order with the messages appended before it
   * (an edit of a message appended in the same turn finds it), as durably as `append`,
   * and tells `done`. A delete removes the text and name from storage, not only from view.
   */
  change(room: string, change: MessageChange, done: ChangeCallback): void;
  /** `user`'s rooms that have stored messages and a read marker of theirs, by name, at most `limit`. */
  userRooms(user: string, limit: number): readonly UserRoom[] | Promise<readonly UserRoom[]>;
  /** The rooms that have stored messages, by name: the first `query.limit` after `query.after`. */
  rooms(query: RoomQuery): readonly StoredRoom[] | Promise<readonly StoredRoom[]>;
  /**
   * The webhook outbox (WEBHOOK_URL set): the store then records each message's event in
   * the commit that stores it, and every other event in order with its writes.
   */
  readonly events?: EventOutbox | undefined;
  /** Why messages are refused now, or null while they are taken (for /readyz). */
  problem(): string | null;
  /**
   * A message another node stored, or changed (WORKERS > 1 without Redis): a store of
   * this node's memory only keeps it too, so that it answers like the others' stores.
   */
  observe?(room: string, message: ChatMessage): void;
  observeChange?(room: string, result: ChangeResult): void;
  /** A room left memory: a store that keeps only what is in memory may let it go. */
  forget?(room: string): void;
  close(): void | Promise<void>;
}
