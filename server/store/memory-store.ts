import type { ChatMessage } from '../protocol';
import { History } from './history';
import { compareIds, MessageIdGenerator } from './message-id';
import { byName, type AppendCallback, type MessageStore, type StoredPage, type StoredRoom } from './message-store';

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

  read(room: string, query: { since?: string | undefined; limit: number }): StoredPage {
    return pageOf(this.kept.get(room)?.list() ?? [], query.since, query.limit);
  }

  rooms(): StoredRoom[] {
    const rooms: StoredRoom[] = [];
    for (const [name, history] of this.kept) {
      const newest = history.list().at(-1);
      if (newest !== undefined) rooms.push({ name, lastMessageAt: newest.at });
    }
    return rooms.sort(byName);
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
 * A page of `all` (one room's messages, oldest first): after `since` when given, else
 * the newest `limit`. An unknown `since` still gets what is newer than it, marked
 * incomplete.
 */
export function pageOf(all: readonly ChatMessage[], since: string | undefined, limit: number): StoredPage {
  if (since === undefined) return { messages: all.slice(Math.max(0, all.length - limit)), complete: true };
  const index = all.findIndex((message) => message.id === since);
  if (index !== -1) return { messages: all.slice(index + 1, index + 1 + limit), complete: true };
  const newer = all.filter((message) => compareIds(message.id, since) > 0);
  return { messages: newer.slice(0, limit), complete: false };
}
