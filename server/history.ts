import type { ChatMessage } from './protocol';

/** The last `capacity` chat messages, kept in a ring so that adding one never copies. */
export class History {
  private readonly ring: (ChatMessage | undefined)[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<ChatMessage | undefined>(capacity);
  }

  add(message: ChatMessage): void {
    if (this.capacity === 0) return;
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
    for (let i = 0; i < this.size; i += 1) {
      out.push(this.ring[(this.start + i) % this.capacity] as ChatMessage);
    }
    return out;
  }
}
