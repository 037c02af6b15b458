/** One message waiting in a room's queue: asked about, perhaps answered, not yet applied. */
interface Waiting<V> {
  answered: boolean;
  verdict: V | undefined;
  apply: (verdict: V) => void;
}

/**
 * Where messages wait for the publish hook's verdicts: the messages of one room are
 * asked about at once (pipelined), and their verdicts applied in the order they arrived,
 * so one sender's messages keep their order whatever order the answers come back in.
 * Each room waits for its own messages only: a slow answer about room A holds up room A's
 * later messages, never room B's. At most `maxWaitingPerRoom` wait in one room, so a
 * hook that hangs costs bounded memory (every request ends by its deadline).
 */
export class PublishGate<V> {
  private readonly rooms = new Map<string, Waiting<V>[]>();

  constructor(
    private readonly maxWaitingPerRoom: number,
    /** Told of an `apply` that threw; the room's queue goes on with the next. */
    private readonly onApplyError: (err: unknown) => void,
  ) {}

  /**
   * Asks (`ask`, whose promise must never reject) and, once this and every earlier
   * message of `room` have their verdicts, applies this one. False, and nothing asked,
   * when `room` already has `maxWaitingPerRoom` messages waiting.
   */
  pass(room: string, ask: () => Promise<V>, apply: (verdict: V) => void): boolean {
    let queue = this.rooms.get(room);
    if (queue === undefined) {
      queue = [];
      this.rooms.set(room, queue);
    } else if (queue.length >= this.maxWaitingPerRoom) {
      return false;
    }
    const waiting: Waiting<V> = { answered: false, verdict: undefined, apply };
    queue.push(waiting);
    void ask().then((verdict) => {
      waiting.answered = true;
      waiting.verdict = verdict;
      this.drain(room);
    });
    return true;
  }

  /** Messages waiting in `room` now. */
  waiting(room: string): number {
    return this.rooms.get(room)?.length ?? 0;
  }

  private drain(room: string): void {
    const queue = this.rooms.get(room);
    if (queue === undefined) return;
    while (queue.length > 0 && (queue[0] as Waiting<V>).answered) {
      const head = queue.shift() as Waiting<V>;
      try {
        head.apply(head.verdict as V);
      } catch (err) {
        this.onApplyError(err);
      }
    }
    if (queue.length === 0) this.rooms.delete(room);
  }
}
