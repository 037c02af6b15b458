/**
 * Message ids shaped like Redis stream ids, `<epoch ms>-<sequence>`: unique within a
 * process, ordered by time, and readable. A clock that steps backwards never
 * produces an id lower than the last one.
 */
export class MessageIdGenerator {
  private lastMs = 0;
  private sequence = 0;

  constructor(private readonly now: () => number = Date.now) {}

  next(): { id: string; at: number } {
    const at = this.now();
    if (at > this.lastMs) {
      this.lastMs = at;
      this.sequence = 0;
    } else {
      this.sequence += 1;
    }
    return { id: `${this.lastMs}-${this.sequence}`, at };
  }
}
