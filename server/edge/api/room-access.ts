import type { Logger } from 'pino';
import type { ChatMessage, MessageDelete, MessageEdit, Presence, UserRoom } from '../../protocol';
import type { Room } from '../../room/room';
import type { Rooms } from '../../room/rooms';
import { TokenBucket } from '../../room/token-bucket';
import {
  byName,
  StoreUnavailableError,
  type ChangeRefusal,
  type ChangeResult,
  type MessageChange,
  type StoredPage,
} from '../../store/message-store';
import { withDeadline } from '../../support/deadline';
import type { Metrics } from '../../support/metrics';
import { ApiError, ApiErrorCode } from './errors';
import type { Posted } from './idempotency';
import type { HistoryQuery, RoomListQuery } from './input';

/** A store that takes longer than this to answer a read is as good as unavailable. */
export const STORE_READ_TIMEOUT_MS = 5_000;

/**
 * The most one history answer holds, as JSON (at least one message): a page of the
 * largest messages is answered and sent without holding the event loop, and `more` says
 * where the rest is.
 */
export const API_PAGE_BYTES = 1024 * 1024;

export interface RoomSummary {
  name: string;
  online: number;
  lastMessageAt: number | null;
}

/** A page of the room listing; `next`: the `after` of the next page, null on the last one. */
export interface RoomListPage {
  rooms: RoomSummary[];
  next: string | null;
}

export interface RoomAccessOptions {
  /** What the API needs of the rooms: `store` is the one they use now (Redis, once joined). */
  rooms: Pick<Rooms, 'open' | 'get' | 'all' | 'store' | 'presence' | 'online'>;
  /** Writes (posts, edits, deletes) per second for the one API key; 0: no limit. */
  rateLimit: number;
  metrics: Metrics;
  logger: Logger;
}

/** The answer to each way the store may refuse a change. */
const REFUSALS: Record<ChangeRefusal, [status: number, code: ApiErrorCode]> = {
  not_found: [404, ApiErrorCode.NotFound],
  forbidden: [403, ApiErrorCode.Forbidden],
  too_many_reactions: [409, ApiErrorCode.TooManyReactions],
};

/**
 * What the API does with rooms: reads their stored history, presence and read markers
 * without bringing them into memory, and posts, edits and deletes through the room like
 * a client, so that what it does is stored, shown in the history and told to every
 * client of the room on every node like anything else.
 */
export class RoomAccess {
  private readonly bucket: TokenBucket | null;

  constructor(private readonly options: RoomAccessOptions) {
    this.bucket = options.rateLimit === 0 ? null : new TokenBucket(options.rateLimit, options.rateLimit * 2);
  }

  /**
   * A page of the rooms with stored messages or with clients now, by name: the first
   * `limit` after `after`. The store is asked for one more than that, so that a page
   * knows whether another follows; the rooms in memory (at most MAX_ROOMS) join them.
   */
  async list(query: RoomListQuery): Promise<RoomListPage> {
    const { rooms } = this.options;
    const stored = await this.read(() => rooms.store.rooms({ after: query.after, limit: query.limit + 1 }));
    const summaries = new Map<string, RoomSummary>(stored.map(({ name, lastMessageAt }) => [name, { name, online: rooms.online(name), lastMessageAt }]));
    for (const room of rooms.all()) {
      if (query.after !== undefined && room.name <= query.after) continue;
      const online = rooms.online(room.name);
      // Past the stored page's last room it may be stored too: it is then cut from this page below.
      if (!summaries.has(room.name) && online > 0) summaries.set(room.name, { name: room.name, online, lastMessageAt: null });
    }
    const all = [...summaries.values()].sort(byName);
    const page = all.slice(0, query.limit);
    return { rooms: page, next: all.length > query.limit ? (page.at(-1)?.name ?? null) : null };
  }

  history(room: string, query: HistoryQuery): Promise<StoredPage> {
    return this.read(() => this.options.rooms.store.read(room, { ...query, maxBytes: API_PAGE_BYTES }));
  }

  /** Who is in `room` on every node, whether this node holds it or not. */
  presence(room: string): Presence {
    return this.options.rooms.presence(room);
  }

  /** `user`'s rooms with a read marker and stored messages, by name, at most `limit`. */
  async userRooms(user: string, limit: number): Promise<UserRoom[]> {
    return [...(await this.read(() => this.options.rooms.store.userRooms(user, limit)))];
  }

  /** Resolves once the message is stored (and on its way to every client of the room). */
  async post(roomName: string, name: string, text: string): Promise<Posted> {
    const room = this.writableRoom(roomName);
    this.options.metrics.messageIn('api');
    // Held in memory until stored: a room opened for this post has nobody in it, and a
    // newcomer elsewhere needing the place must not drop it half-way.
    room.arrive();
    return new Promise<Posted>((resolve, reject) => {
      room.post(name, text, {
        accepted: (message: ChatMessage) => {
          room.cancelArrival();
          resolve({ id: message.id, at: message.at });
        },
        refused: () => {
          room.cancelArrival();
          reject(new ApiError(503, ApiErrorCode.Unavailable));
        },
      });
    });
  }

  /** Resolves once the new text is stored (and on its way to every client of the room). */
  async edit(roomName: string, id: string, text: string): Promise<MessageEdit> {
    const result = await this.change(roomName, { kind: 'edit', id, text, by: 'any', at: Date.now() });
    if (result.kind !== 'edit') throw new Error(`an edit made a change of kind ${result.kind}`);
    return { id: result.id, text: result.text, version: result.version, editedAt: result.editedAt };
  }

  /** Resolves once the message is a tombstone in storage (and the room is being told). */
  async delete(roomName: string, id: string): Promise<MessageDelete> {
    const result = await this.change(roomName, { kind: 'delete', id, by: 'any' });
    if (result.kind !== 'delete') throw new Error(`a delete made a change of kind ${result.kind}`);
    return { id: result.id };
  }

  /**
   * Makes `change` through the room, in order with its other events, so that every client
   * of the room on every node hears of it; held in memory until the store answers, as a post is.
   */
  private async change(roomName: string, change: MessageChange): Promise<ChangeResult> {
    const room = this.writableRoom(roomName);
    room.arrive();
    return new Promise<ChangeResult>((resolve, reject) => {
      room.change(change, (outcome) => {
        room.cancelArrival();
        if (outcome instanceof StoreUnavailableError) reject(new ApiError(503, ApiErrorCode.Unavailable));
        else if (typeof outcome === 'string') reject(new ApiError(...REFUSALS[outcome]));
        else resolve(outcome);
      });
    });
  }

  /** The room a write goes to, once the write is within the API's rate: 429, or 503 when it cannot be held. */
  private writableRoom(roomName: string): Room {
    const { rooms, metrics } = this.options;
    if (this.bucket !== null && !this.bucket.take()) {
      metrics.reject('rate');
      throw new ApiError(429, ApiErrorCode.RateLimited);
    }
    const room = rooms.open(roomName);
    if (room === null) {
      metrics.reject('room_limit');
      throw new ApiError(503, ApiErrorCode.RoomLimit);
    }
    return room;
  }

  /** A store read, answered or not within STORE_READ_TIMEOUT_MS: any failure is 503. */
  private async read<T>(reading: () => T | Promise<T>): Promise<T> {
    const answer = Promise.resolve().then(reading);
    try {
      if (!(await withDeadline(answer, STORE_READ_TIMEOUT_MS))) throw new Error(`no answer within ${STORE_READ_TIMEOUT_MS} ms`);
      return await answer;
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'API: stored history unavailable');
      throw new ApiError(503, ApiErrorCode.Unavailable);
    }
  }
}
