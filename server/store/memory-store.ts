import { isDeleted, MAX_REACTIONS, type ChatMessage, type HistoryMessage, type UserRoom } from '../protocol';
import { refusalFor } from './changes';
import { History } from './history';
import { compareIds, MessageIdGenerator } from './message-id';
import {
  byName,
  withinBytes,
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
import { MemoryOutbox } from './memory-outbox';
import { createdEvent, deletedEvent, editedEvent } from './webhook-events';

export interface MemoryStoreOptions {
  /** HISTORY_KEEP: messages kept per room. */
  keep: number;
  /** HISTORY_BYTES: at most this much text per room, so that memory stays bounded. */
  maxBytes: number;
  ids?: MessageIdGenerator;
  /** WEBHOOK_URL is set: keep an outbox of events (in memory, as everything here). */
  events?: boolean;
  now?: () => number;
}

/** One room's messages, and who reacted with what to which of them. */
interface Kept {
  history: History;
  /** Message id -> emoji -> who (a `sub`, or a name). */
  reactions: Map<string, Map<string, Set<string>>>;
}

/**
 * `DATA_DIR=:memory:` (and each worker of WORKERS > 1 without Redis): ids from one
 * generator for every room, so they are unique across rooms; a room's messages, their
 * reactions and the read markers in it are kept while the room is in memory and go with
 * it (nothing survives a restart).
 */
export class MemoryStore implements MessageStore {
  private readonly ids: MessageIdGenerator;
  private readonly kept = new Map<string, Kept>();
  /** User -> room -> the newest message id they have read there. */
  private readonly reads = new Map<string, Map<string, string>>();
  readonly events: MemoryOutbox | undefined;

  constructor(private readonly options: MemoryStoreOptions) {
    this.ids = options.ids ?? new MessageIdGenerator();
    this.events = options.events === true ? new MemoryOutbox() : undefined;
  }

  append(room: string, name: string, text: string, done: AppendCallback, user?: string): void {
    const { id, at } = this.ids.next();
    const message: ChatMessage = user === undefined ? { id, text, name, at } : { id, text, name, at, user };
    this.keptOf(room).history.add(message);
    this.events?.add(createdEvent(room, message));
    done(null, message);
  }

  recent(room: string, limit: number): readonly HistoryMessage[] {
    const all = this.kept.get(room)?.history.list() ?? [];
    return limit === 0 ? [] : all.slice(-limit);
  }

  read(room: string, query: ReadQuery): StoredPage {
    return pageOf(this.kept.get(room)?.history.list() ?? [], query);
  }

  change(room: string, change: MessageChange, done: ChangeCallback): void {
    done(this.make(room, change));
  }

  userRooms(user: string, limit: number): UserRoom[] {
    const rooms: UserRoom[] = [];
    for (const [name, lastReadId] of this.reads.get(user) ?? []) {
      const all = this.kept.get(name)?.history.list() ?? [];
      const last = all.at(-1);
      if (last === undefined) continue;
      const unread = all.filter((m) => !isDeleted(m) && compareIds(m.id, lastReadId) > 0).length;
      rooms.push({ name, lastId: last.id, lastReadId, unread });
    }
    return rooms.sort(byName).slice(0, limit);
  }

  rooms(query: RoomQuery): StoredRoom[] {
    const rooms: StoredRoom[] = [];
    for (const [name, { history }] of this.kept) {
      const newest = history.newest();
      if (newest !== undefined && (query.after === undefined || name > query.after)) rooms.push({ name, lastMessageAt: newest.at });
    }
    return rooms.sort(byName).slice(0, query.limit);
  }

  problem(): null {
    return null;
  }

  observe(room: string, message: ChatMessage): void {
    this.keptOf(room).history.add(message);
  }

  observeChange(room: string, result: ChangeResult): void {
    if (result.kind === 'read') this.markRead(room, result.user, result.id);
    else this.kept.get(room)?.history.change(result);
  }

  forget(room: string): void {
    this.kept.delete(room);
    for (const rooms of this.reads.values()) rooms.delete(room);
  }

  close(): void {
    this.kept.clear();
    this.reads.clear();
  }

  private make(room: string, change: MessageChange): ChangeResult | ChangeRefusal {
    const kept = this.kept.get(room);
    const message = kept?.history.list().find((m) => m.id === change.id);
    if (kept === undefined || message === undefined || isDeleted(message)) return 'not_found';
    let result: ChangeResult;
    switch (change.kind) {
      case 'edit': {
        const refusal = refusalFor(message, change.by);
        if (refusal !== null) return refusal;
        result = { kind: 'edit', id: change.id, text: change.text, version: (message.version ?? 0) + 1, editedAt: change.at };
        this.events?.add(editedEvent(room, message, change.text, result.version, change.at));
        break;
      }
      case 'delete': {
        const refusal = refusalFor(message, change.by);
        if (refusal !== null) return refusal;
        kept.reactions.delete(change.id);
        result = { kind: 'delete', id: change.id };
        this.events?.add(deletedEvent(room, change.id, (this.options.now ?? Date.now)()));
        break;
      }
      case 'react': {
        const count = this.toggle(kept, change.id, change.emoji, change.user, change.on);
        if (count === null) return 'too_many_reactions';
        result = { kind: 'reaction', id: change.id, emoji: change.emoji, count };
        break;
      }
      case 'read':
        return { kind: 'read', id: this.markRead(room, change.user, change.id), user: change.user };
    }
    kept.history.change(result);
    return result;
  }

  /** The emoji's count after the toggle; null when it would be one distinct emoji too many. */
  private toggle(kept: Kept, id: string, emoji: string, user: string, on: boolean): number | null {
    let byEmoji = kept.reactions.get(id);
    if (byEmoji === undefined) kept.reactions.set(id, (byEmoji = new Map()));
    let users = byEmoji.get(emoji);
    if (users === undefined) {
      if (!on) return 0;
      if (byEmoji.size >= MAX_REACTIONS) return null;
      byEmoji.set(emoji, (users = new Set()));
    }
    if (on) users.add(user);
    else users.delete(user);
    if (users.size === 0) byEmoji.delete(emoji);
    return users.size;
  }

  /** Moves `user`'s marker in `room` to `id` unless it is past it already; answers where it is. */
  private markRead(room: string, user: string, id: string): string {
    let rooms = this.reads.get(user);
    if (rooms === undefined) this.reads.set(user, (rooms = new Map()));
    const before = rooms.get(room);
    if (before !== undefined && compareIds(before, id) >= 0) return before;
    rooms.set(room, id);
    return id;
  }

  private keptOf(room: string): Kept {
    let kept = this.kept.get(room);
    if (kept === undefined) {
      kept = { history: new History(this.options.keep, this.options.maxBytes), reactions: new Map() };
      this.kept.set(room, kept);
    }
    return kept;
  }
}

/**
 * A page of `all` (one room's messages, oldest first) for `query` (see MessageStore.read).
 * An unknown `since` still gets what is newer than it, marked incomplete.
 */
export function pageOf(all: readonly HistoryMessage[], query: ReadQuery): StoredPage {
  const { since, before, limit, maxBytes = Number.POSITIVE_INFINITY } = query;
  if (since === undefined) {
    const upTo = before === undefined ? all.length : all.filter((message) => compareIds(message.id, before) < 0).length;
    const newest = withinBytes(all.slice(Math.max(0, upTo - limit), upTo).reverse(), maxBytes).reverse();
    return { messages: newest, complete: true, more: newest.length < upTo };
  }
  const index = all.findIndex((message) => message.id === since);
  const after = index !== -1 ? all.slice(index + 1) : all.filter((message) => compareIds(message.id, since) > 0);
  const messages = withinBytes(after.slice(0, limit), maxBytes);
  return { messages, complete: index !== -1, more: messages.length < after.length };
}
