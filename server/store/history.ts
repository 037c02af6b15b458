import { compareIds } from './message-id';
import type { HistoryMessage } from '../protocol';
import { jsonBytes } from '../support/json-bytes';
import { changed } from './changes';
import { withinBytes, type ChangeResult } from './message-store';

/**
 * The last `capacity` chat messages in id order, at most `maxBytes` of them as sent
 * (JSON), kept in a ring so that adding one never copies. With several nodes, messages of
 * different nodes may arrive slightly out of id order; those few are put in their place
 * (the only case that copies).
 *
 * Why a byte bound as well as a count: a newcomer receives the whole history in one
 * packet, and 50 messages of MAX_MESSAGE_BYTES (six times that as JSON, when they are
 * control characters) would be a packet of many megabytes for every newcomer.
 */
export class History {
  private readonly ring: (HistoryMessage | undefined)[];
  private readonly sizes: number[];
  private start = 0;
  private size = 0;
  private bytes = 0;
  /**
   * The newest message too large to keep: what came after an older one can no longer
   * be told from memory alone.
   */
  private gap: string | null = null;

  constructor(
    readonly capacity: number,
    readonly maxBytes: number = Number.POSITIVE_INFINITY,
  ) {
    this.ring = new Array<HistoryMessage | undefined>(capacity);
    this.sizes = new Array<number>(capacity).fill(0);
  }

  add(message: HistoryMessage): void {
    if (this.capacity === 0) return;
    const bytes = jsonBytes(message);
    if (bytes > this.maxBytes) {
      if (this.gap === null || compareIds(message.id, this.gap) > 0) this.gap = message.id;
      return;
    }
    const newest = this.newest();
    if (newest !== undefined && compareIds(message.id, newest.id) <= 0) {
      if (this.replace(message.id, () => message)) return;
      this.insertInOrder(message);
      return;
    }
    this.append(message, bytes);
  }

  /** Shows `change` (made by the store) on the message it concerns, if that is here. */
  change(change: ChangeResult): void {
    if (change.kind !== 'read') this.replace(change.id, (message) => changed(message, change));
  }

  /** Whether the message with `id` is kept. */
  has(id: string): boolean {
    return this.slotOf(id) !== -1;
  }

  /** The newest message kept, if any. */
  newest(): HistoryMessage | undefined {
    return this.size === 0 ? undefined : this.at(this.size - 1);
  }

  /** Oldest first. */
  list(): HistoryMessage[] {
    const out: HistoryMessage[] = [];
    for (let i = 0; i < this.size; i += 1) out.push(this.at(i));
    return out;
  }

  /**
   * The messages after the one with `id`, oldest first, as many as fit in `maxBytes` as
   * JSON (at least one); null when that message is not here (never sent, or already
   * pushed out), or a message after it was too large to keep: what was missed cannot be
   * told from here.
   */
  after(id: string, maxBytes = Number.POSITIVE_INFINITY): HistoryMessage[] | null {
    if (this.gap !== null && compareIds(id, this.gap) < 0) return null;
    const all = this.list();
    const index = all.findIndex((message) => message.id === id);
    return index === -1 ? null : withinBytes(all.slice(index + 1), maxBytes);
  }

  /**
   * Puts `by(old)` in the place of the message with `id`; false when it is not here. A
   * message that no longer fits the byte bound makes the oldest ones go.
   */
  private replace(id: string, by: (old: HistoryMessage) => HistoryMessage): boolean {
    const slot = this.slotOf(id);
    if (slot === -1) return false;
    const message = by(this.ring[slot] as HistoryMessage);
    const bytes = jsonBytes(message);
    this.ring[slot] = message;
    this.bytes += bytes - (this.sizes[slot] as number);
    this.sizes[slot] = bytes;
    while (this.bytes > this.maxBytes && this.size > 0) this.dropOldest();
    return true;
  }

  /**
   * The ring slot of the message with `id`, or -1. Searched from the newest (changes and
   * repeats concern recent messages mostly), and only down to the first older id: the
   * ring is in id order, so a new message costs one comparison.
   */
  private slotOf(id: string): number {
    for (let i = this.size - 1; i >= 0; i -= 1) {
      const slot = (this.start + i) % this.capacity;
      const kept = (this.ring[slot] as HistoryMessage).id;
      if (kept === id) return slot;
      if (compareIds(kept, id) < 0) return -1;
    }
    return -1;
  }

  private at(index: number): HistoryMessage {
    return this.ring[(this.start + index) % this.capacity] as HistoryMessage;
  }

  private dropOldest(): void {
    this.bytes -= this.sizes[this.start] as number;
    this.ring[this.start] = undefined;
    this.start = (this.start + 1) % this.capacity;
    this.size -= 1;
  }

  private insertInOrder(message: HistoryMessage): void {
    const all = this.list();
    if (all.some((m) => m.id === message.id)) return;
    const index = all.findIndex((m) => compareIds(message.id, m.id) < 0);
    all.splice(index, 0, message);
    this.ring.fill(undefined);
    this.start = 0;
    this.size = 0;
    this.bytes = 0;
    // Re-added oldest first, so the count and byte bounds drop from the old end.
    for (const m of all) this.append(m, jsonBytes(m));
  }

  /**
   * Puts a message newer than all others at the end, dropping the oldest past either
   * bound. `bytes`: its size as JSON, measured once by the caller.
   */
  private append(message: HistoryMessage, bytes: number): void {
    if (this.size === this.capacity) this.dropOldest();
    const slot = (this.start + this.size) % this.capacity;
    this.ring[slot] = message;
    this.sizes[slot] = bytes;
    this.size += 1;
    this.bytes += bytes;
    while (this.bytes > this.maxBytes) this.dropOldest();
  }
}
