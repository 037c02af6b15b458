import { randomBytes } from 'node:crypto';
import type { EventOutbox, MemberRef, OutboxDepth, WebhookEvent, WebhookEventType } from './event-outbox';
import { memberEvents, type NewEvent } from './webhook-events';

/**
 * The most events the memory outbox holds: past it the oldest go (counted as dropped),
 * so that a receiver that is down cannot take the process's memory.
 */
export const MEMORY_OUTBOX_LIMIT = 100_000;

/**
 * `DATA_DIR=:memory:`: the outbox in this process's memory, as the history is. Nothing
 * survives a restart, and each worker of WORKERS > 1 delivers its own events (and
 * counts its own members). Its ids start with a random part of this process's own.
 */
export class MemoryOutbox implements EventOutbox {
  private readonly events: WebhookEvent[] = [];
  /** Room -> member key -> connections. */
  private readonly members = new Map<string, Map<string, number>>();
  private readonly prefix = `evt_${randomBytes(4).toString('hex')}_`;
  private seq = 0;
  /** Events dropped past MEMORY_OUTBOX_LIMIT that `expire` has not counted yet. */
  private overflowed = 0;

  add(event: NewEvent): void {
    this.seq += 1;
    this.events.push({ id: this.prefix + this.seq, ...event });
    if (this.events.length > MEMORY_OUTBOX_LIMIT) {
      this.events.shift();
      this.overflowed += 1;
    }
  }

  member(room: string, who: MemberRef, delta: 1 | -1, at: number): void {
    let counts = this.members.get(room);
    if (counts === undefined) this.members.set(room, (counts = new Map()));
    const member = counts.get(who.key) ?? 0;
    for (const event of memberEvents(room, who, delta, member, counts.size, at)) this.add(event);
    const now = member + delta;
    if (now > 0) counts.set(who.key, now);
    else counts.delete(who.key);
    if (counts.size === 0) this.members.delete(room);
  }

  record(room: string | null, type: WebhookEventType, data: unknown, at: number): void {
    this.add({ type, room, at, data: JSON.stringify(data) });
  }

  lease(): boolean {
    return true;
  }

  release(): void {}

  oldest(limit: number): WebhookEvent[] {
    return this.events.slice(0, limit);
  }

  remove(events: readonly WebhookEvent[]): void {
    const last = events.at(-1);
    if (last === undefined) return;
    const upTo = this.events.findIndex((event) => event.id === last.id);
    if (upTo >= 0) this.events.splice(0, upTo + 1);
  }

  expire(at: number): number {
    let old = 0;
    while (old < this.events.length && (this.events[old] as WebhookEvent).at < at) old += 1;
    this.events.splice(0, old);
    const dropped = old + this.overflowed;
    this.overflowed = 0;
    return dropped;
  }

  depth(): OutboxDepth {
    return { events: this.events.length, oldestAt: this.events[0]?.at ?? null };
  }
}
