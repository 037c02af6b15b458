/**
 * Message ids shaped like Redis stream ids, `<epoch ms>-<sequence>`: unique within a
 * process, ordered by time, and readable. A clock that steps backwards never
 * produces an id lower than the last one.
 *
 * Several workers sharing no Redis (WORKERS > 1) each take every `stride`-th sequence
 * number starting at `offset`, so their ids never collide and keep the same shape.
 */
export class MessageIdGenerator {
  private lastMs = 0;
  private sequence = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly offset = 0,
    private readonly stride = 1,
  ) {}

  /**
   * Every id from now on is greater than `id` (the newest one stored before a restart),
   * whatever the clock says: a clock that stepped back since then only slows the
   * milliseconds part down, the sequence goes on.
   */
  continueAfter(id: string): void {
    const parts = idParts(id);
    if (parts === null) return;
    const [ms, sequence] = parts;
    if (ms < this.lastMs) return;
    // next() at `ms` then gives (this.sequence + 1) * stride + offset, which is > sequence.
    const taken = Math.floor(sequence / this.stride);
    if (ms > this.lastMs || taken > this.sequence) {
      this.lastMs = ms;
      this.sequence = taken;
    }
  }

  /** The next id, its two parts (`ms`, `seq`) as numbers, and the time it was made. */
  next(): { id: string; at: number; ms: number; seq: number } {
    const at = this.now();
    if (at > this.lastMs) {
      this.lastMs = at;
      this.sequence = 0;
    } else {
      this.sequence += 1;
    }
    let seq = this.sequence * this.stride + this.offset;
    // Both parts must stay safe integers (clients compare them as numbers): a sequence
    // that would not goes on in the next millisecond instead, still greater.
    if (seq > Number.MAX_SAFE_INTEGER) {
      this.lastMs += 1;
      this.sequence = 0;
      seq = this.offset;
    }
    return { id: `${this.lastMs}-${seq}`, at, ms: this.lastMs, seq };
  }
}

const ID_PATTERN = /^(\d{1,16})-(\d{1,16})$/;

/** Whether `text` has the `<ms>-<seq>` shape of a message id. */
export function isMessageId(text: string): boolean {
  return ID_PATTERN.test(text);
}

/** The two numbers of a message id, `<ms>-<seq>`; null when `id` does not have that shape. */
export function idParts(id: string): [ms: number, seq: number] | null {
  const match = ID_PATTERN.exec(id);
  return match === null ? null : [Number(match[1]), Number(match[2])];
}

/** Orders two message ids the way Redis orders stream ids: by time, then sequence. */
export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = idParts(a) ?? [0, 0];
  const [bMs, bSeq] = idParts(b) ?? [0, 0];
  return aMs - bMs || aSeq - bSeq;
}
