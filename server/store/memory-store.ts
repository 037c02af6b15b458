import type { ChatMessage } from '../protocol';
import { History } from './history';
import { compareIds, MessageIdGenerator } from './message-id';
import { byName, withinBytes, type AppendCallback, type MessageStore, type ReadQuery, type RoomQuery, type StoredPage, type StoredRoom } from './message-store';

export interface MemoryStoreOptions {
  /** HISTORY_KEEP: messages kept per room. */
  keep: number;
  /** HISTORY_BYTES: at most this much text per room, so that memory stays bounded. */
  maxBytes: number;
  ids?: MessageIdGenerator;
}

/**
 * `DATA_DIR=:memory:` (and each worker of WORKERS > 1 without Redis): ids from one
 * generator for every room, so they are unique across rooms; a room's messages are
 * kept while the room is in memory and go with it (nothing survives a restart).
 */
export class MemoryStore implements MessageStore {
  private readonly ids: MessageIdGenerator;
  private readonly kept = new Map<string, History>();

  constructor(private readonly options: MemoryStoreOptions) {
    this.ids = options.ids ?? new MessageIdGenerator();
  }

  append(room: string, name: string, text: string, done: AppendCallback): void {
    const { id, at } = this.ids.next();
    const message: ChatMessage = { id, text, name, at };
    this.historyOf(room).add(message);
    done(null, message);
  }

  recent(room: string, limit: number): readonly ChatMessage[] {
    const all = this.kept.get(room)?.list() ?? [];
    return limit === 0 ? [] : all.slice(-limit);
  }

  read(room: string, query: ReadQuery): StoredPage {
    return pageOf(this.kept.get(room)?.list() ?? [], query);
  }

  rooms(query: RoomQuery): StoredRoom[] {
    const rooms: StoredRoom[] = [];
    for (const [name, history] of this.kept) {
      const newest = history.newest();
      if (newest !== undefined && (query.after === undefined || name > query.after)) rooms.push({ name, lastMessageAt: newest.at });
    }
    return rooms.sort(byName).slice(0, query.limit);
  }

  problem(): null {
    return null;
  }

  observe(room: string, message: ChatMessage): void {
    this.historyOf(room).add(message);
  }

  forget(room: string): void {
    this.kept.delete(room);
  }

  close(): void {
    this.kept.clear();
  }

  private historyOf(room: string): History {
    let history = this.kept.get(room);
    if (history === undefined) {
      history = new History(this.options.keep, this.options.maxBytes);
      this.kept.set(room, history);
    }
    return history;
  }
}

/**
 * A page of `all` (one room's messages, oldest first) for `query` (see MessageStore.read).
 * An unknown `since` still gets what is newer than it, marked incomplete.
 */
export function pageOf(all: readonly ChatMessage[], query: ReadQuery): StoredPage {
  const { since, limit, maxBytes = Number.POSITIVE_INFINITY } = query;
  if (since === undefined) {
    const newest = withinBytes(all.slice(Math.max(0, all.length - limit)).reverse(), maxBytes).reverse();
    return { messages: newest, complete: true, more: newest.length < all.length };
  }
  const index = all.findIndex((message) => message.id === since);
  const after = index !== -1 ? all.slice(index + 1) : all.filter((message) => compareIds(message.id, since) > 0);
  const messages = withinBytes(after.slice(0, limit), maxBytes);
  return { messages, complete: index !== -1, more: messages.length < after.length };
}
