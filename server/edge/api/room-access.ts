import type { Logger } from 'pino';
import type { ChatMessage, Presence } from '../../protocol';
import type { Rooms } from '../../room/rooms';
import { TokenBucket } from '../../room/token-bucket';
import { byName, type StoredPage } from '../../store/message-store';
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
  rooms: Pick<Rooms, 'open' | 'get' | 'all' | 'store'>;
  /** Messages per second for the one API key; 0: no limit. */
  rateLimit: number;
  metrics: Metrics;
  logger: Logger;
}

/**
 * What the API does with rooms: reads their stored history and presence without
 * bringing them into memory, and posts through Room.post like a client, so that a posted
 * message is stored, kept in the history and delivered to every node like any other.
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
    const summaries = new Map<string, RoomSummary>(stored.map(({ name, lastMessageAt }) => [name, { name, online: 0, lastMessageAt }]));
    for (const room of rooms.all()) {
      if (query.after !== undefined && room.name <= query.after) continue;
      const { online } = room.presenceNow();
      const known = summaries.get(room.name);
      if (known !== undefined) known.online = online;
      // Past the stored page's last room it may be stored too: it is then cut from this page below.
      else if (online > 0) summaries.set(room.name, { name: room.name, online, lastMessageAt: null });
    }
    const all = [...summaries.values()].sort(byName);
    const page = all.slice(0, query.limit);
    return { rooms: page, next: all.length > query.limit ? (page.at(-1)?.name ?? null) : null };
  }

  history(room: string, query: HistoryQuery): Promise<StoredPage> {
    return this.read(() => this.options.rooms.store.read(room, { ...query, maxBytes: API_PAGE_BYTES }));
  }

  /** A room that is not in memory has nobody in it on this node, and what others say is not heard. */
  presence(room: string): Presence {
    return this.options.rooms.get(room)?.presenceNow() ?? { online: 0, members: [] };
  }

  /** Resolves once the message is stored (and on its way to every client of the room). */
  post(roomName: string, name: string, text: string): Promise<Posted> {
    const { rooms, metrics } = this.options;
    if (this.bucket !== null && !this.bucket.take()) {
      metrics.reject('rate');
      return Promise.reject(new ApiError(429, ApiErrorCode.RateLimited));
    }
    const room = rooms.open(roomName);
    if (room === null) {
      metrics.reject('room_limit');
      return Promise.reject(new ApiError(503, ApiErrorCode.RoomLimit));
    }
    metrics.messageIn('api');
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
