import { compareIds } from './message-id';
import type { ChatMessage } from '../protocol';

const textBytes = (message: ChatMessage) => Buffer.byteLength(message.text, 'utf8');

/**
 * The last `capacity` chat messages in id order, at most `maxBytes` of text together,
 * kept in a ring so that adding one never copies. With several nodes, messages of
 * different nodes may arrive slightly out of id order; those few are put in their place
 * (the only case that copies).
 *
 * Why a byte bound as well as a count: a newcomer receives the whole history in one
 * packet, and 50 messages of MAX_MESSAGE_BYTES (six times that as JSON, when they are
 * control characters) would be a packet of many megabytes for every newcomer.
 */
export class History {
  private readonly ring: (ChatMessage | undefined)[];
  private start = 0;
  private size = 0;
  private bytes = 0;

  constructor(
    readonly capacity: number,
    readonly maxBytes: number = Number.POSITIVE_INFINITY,
  ) {
    this.ring = new Array<ChatMessage | undefined>(capacity);
  }

  add(message: ChatMessage): void {
    if (this.capacity === 0) return;
    const bytes = textBytes(message);
    if (bytes > this.maxBytes) return;
    const newest = this.size === 0 ? undefined : this.at(this.size - 1);
    if (newest !== undefined && compareIds(message.id, newest.id) <= 0) {
      this.insertInOrder(message);
      return;
    }
    this.append(message, bytes);
  }

  /** Oldest first. */
  list(): ChatMessage[] {
    const out: ChatMessage[] = [];
    for (let i = 0; i < this.size; i += 1) out.push(this.at(i));
    return out;
  }

  /**
   * The messages after the one with `id`, oldest first; null when that message is not
   * here (never sent, or already pushed out), so the caller cannot tell what was missed.
   */
  after(id: string): ChatMessage[] | null {
    const all = this.list();
    const index = all.findIndex((message) => message.id === id);
    return index === -1 ? null : all.slice(index + 1);
  }

  private at(index: number): ChatMessage {
    return this.ring[(this.start + index) % this.capacity] as ChatMessage;
  }

  private dropOldest(): void {
    this.bytes -= textBytes(this.at(0));
    this.ring[this.start] = undefined;
    this.start = (this.start + 1) % this.capacity;
    this.size -= 1;
  }

  private insertInOrder(message: ChatMessage): void {
    const all = this.list();
    if (all.some((m) => m.id === message.id)) return;
    const index = all.findIndex((m) => compareIds(message.id, m.id) < 0);
    all.splice(index, 0, message);
    this.ring.fill(undefined);
    this.start = 0;
    this.size = 0;
    this.bytes = 0;
    // Re-added oldest first, so the count and byte bounds drop from the old end.
    for (const m of all) this.append(m, textBytes(m));
  }

  /**
   * Puts a message newer than all others at the end, dropping the oldest past either
   * bound. `bytes`: its text's UTF-8 length, measured once by the caller.
   */
  private append(message: ChatMessage, bytes: number): void {
    if (this.size === this.capacity) this.dropOldest();
    this.ring[(this.start + this.size) % this.capacity] = message;
    this.size += 1;
    this.bytes += bytes;
    while (this.bytes > this.maxBytes) this.dropOldest();
  }
}
