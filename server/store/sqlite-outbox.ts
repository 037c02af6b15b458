import type { EventOutbox, MemberRef, OutboxDepth, WebhookEvent, WebhookEventType } from './event-outbox';
import type { PendingEvent } from './sqlite/database';
import type { OutboxReader } from './sqlite/outbox';

/** What the outbox needs of its SQLite store. */
export interface OutboxHost {
  /** Puts a write in the turn's commit, in order with the store's others. */
  enqueue(pending: PendingEvent): void;
  /** Runs a read or a lease on the open file; throws StoreUnavailableError without one. */
  reading<T>(read: (outbox: OutboxReader) => T): T;
}

/**
 * The SQLite store's outbox (WEBHOOK_URL set): events and member counts go into the
 * turn's commit with everything else; reads, removals and the lease are the delivery's.
 */
export class SqliteOutbox implements EventOutbox {
  constructor(
    private readonly host: OutboxHost,
    private readonly now: () => number = Date.now,
  ) {}

  member(room: string, who: MemberRef, delta: 1 | -1, at: number): void {
    this.host.enqueue({ room, member: who, delta, at });
  }

  record(room: string | null, type: WebhookEventType, data: unknown, at: number): void {
    this.host.enqueue({ room, event: { type, room, at, data: JSON.stringify(data) } });
  }

  lease(owner: string, ttlMs: number): boolean {
    return this.host.reading((outbox) => outbox.lease(owner, ttlMs, this.now()));
  }

  release(owner: string): void {
    this.host.reading((outbox) => outbox.release(owner));
  }

  oldest(limit: number): WebhookEvent[] {
    return this.host.reading((outbox) => outbox.oldest(limit));
  }

  remove(events: readonly WebhookEvent[]): void {
    const last = events.at(-1);
    if (last !== undefined) this.host.reading((outbox) => outbox.removeUpTo(last.id));
  }

  expire(at: number): number {
    return this.host.reading((outbox) => outbox.expire(at));
  }

  depth(): OutboxDepth {
    return this.host.reading((outbox) => outbox.depth());
  }
}
