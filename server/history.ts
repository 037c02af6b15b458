import { compareIds } from './message-id';
import type { ChatMessage } from './protocol';

/**
 * The last `capacity` chat messages in id order, kept in a ring so that adding one never
 * copies. With several nodes, messages of different nodes may arrive slightly out of id
 * order; those few are put in their place (the only case that copies).
 */
export class History {
  private readonly ring: (ChatMessage | undefined)[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<ChatMessage | undefined>(capacity);
  }

  add(message: ChatMessage): void {
    if (this.capacity === 0) return;
    const newest = this.size === 0 ? undefined : this.at(this.size - 1);
    if (newest !== undefined && compareIds(message.id, newest.id) <= 0) {
      this.insertInOrder(message);
      return;
    }
    if (this.size < this.capacity) {
      this.ring[(this.start + this.size) % this.capacity] = message;
      this.size += 1;
    } else {
      this.ring[this.start] = message;
      this.start = (this.start + 1) % this.capacity;
    }
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

  private insertInOrder(message: ChatMessage): void {
    const all = this.list();
    if (all.some((m) => m.id === message.id)) return;
    const index = all.findIndex((m) => compareIds(message.id, m.id) < 0);
    all.splice(index, 0, message);
    if (all.length > this.capacity) all.shift();
    this.start = 0;
    this.size = all.length;
    all.forEach((m, i) => (this.ring[i] = m));
  }
}
