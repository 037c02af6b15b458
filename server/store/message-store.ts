import type { ChatMessage } from '../protocol';

/** Told once what became of a message given to `MessageStore.append`. */
export type AppendCallback = (error: StoreUnavailableError | null, message: ChatMessage | null) => void;

/** A page of one room's stored messages, oldest first. */
export interface StoredPage {
  messages: ChatMessage[];
  /** False when `since` is not (or no longer) stored: messages before these may be missing. */
  complete: boolean;
}

/** A room that has stored messages. */
export interface StoredRoom {
  name: string;
  /** When its newest stored message was sent (epoch ms). */
  lastMessageAt: number;
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
   * Up to `limit` messages of `room`, oldest first: after the message `since` when given
   * (the first `limit` of those), else the newest `limit`.
   */
  read(room: string, query: { since?: string | undefined; limit: number }): StoredPage | Promise<StoredPage>;
  /** Every room that has stored messages, by name. */
  rooms(): readonly StoredRoom[] | Promise<readonly StoredRoom[]>;
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
