/**
 * The webhook events a store keeps until they are delivered (WEBHOOK_URL): its durable
 * outbox. A store records a message's event in the same commit as the message (SQLite:
 * the turn's transaction; Redis: the same script), so an acknowledged message never
 * loses its event, whatever happens to the process after the ack.
 */

/** The events a receiver may get, by name. */
export const WEBHOOK_EVENT_TYPES = [
  'room.occupied',
  'room.vacated',
  'member.joined',
  'member.left',
  'message.created',
  'message.edited',
  'message.deleted',
  'moderation.kick',
  'moderation.ban',
  'moderation.mute',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** One event as a receiver gets it in a batch's `events`. `id` is stable across retries. */
export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  /** The room, or null for what concerns no one room (a ban everywhere). */
  room: string | null;
  /** When it happened, epoch ms. */
  at: number;
  /** What it is about, as JSON text: stored so, and sent so, without parsing it again. */
  data: string;
}

/**
 * Who a member event is about. `key` is who presence counts: with JWT the token's `sub`
 * (`user`), else the name, so that ten tabs of one user are one member.
 */
export interface MemberRef {
  key: string;
  name: string;
  user?: string | undefined;
}

/** What is waiting in the outbox: how many events and when the oldest happened (null: none). */
export interface OutboxDepth {
  events: number;
  oldestAt: number | null;
}

/** An answer now (memory, SQLite) or later (Redis). */
export type Maybe<T> = T | Promise<T>;

/**
 * A store's outbox. Recording is ordered with the store's other writes; delivery takes
 * the oldest events first and removes them once the receiver has them. One node of a
 * cluster delivers at a time: the one holding the lease.
 */
export interface EventOutbox {
  /**
   * A connection of `who` came into (`+1`) or left (`-1`) `room` on this node. The first
   * connection of a member in the room, on any node, makes `member.joined` (and
   * `room.occupied` if the room had nobody), its last one `member.left` (and
   * `room.vacated`).
   */
  member(room: string, who: MemberRef, delta: 1 | -1, at: number): void;
  /** An event that describes no stored message (moderation), recorded in order with the rest. */
  record(room: string | null, type: WebhookEventType, data: unknown, at: number): void;
  /**
   * Takes or keeps the delivery lease for `owner` for `ttlMs`: true when `owner` holds it
   * now. A node that stops renewing it (dead, partitioned) loses it to another.
   */
  lease(owner: string, ttlMs: number): Maybe<boolean>;
  /** Gives the lease up if `owner` holds it: a node that stops lets another deliver at once. */
  release(owner: string): Maybe<void>;
  /** The oldest `limit` events, oldest first. */
  oldest(limit: number): Maybe<WebhookEvent[]>;
  /** Removes `events` (the oldest ones, as `oldest` gave them): they were delivered. */
  remove(events: readonly WebhookEvent[]): Maybe<void>;
  /** Removes the events that happened before `at`; answers how many. */
  expire(at: number): Maybe<number>;
  depth(): Maybe<OutboxDepth>;
}
