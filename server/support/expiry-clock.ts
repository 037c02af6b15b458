/** One thing to end at a given time; `cancel` before then and it never runs. */
export interface Expiry {
  cancel(): void;
}

/**
 * The longest delay a Node timer takes: a longer one is taken as 1 ms (with a
 * TimeoutOverflowWarning). A token may expire months ahead, so the timer waits at most
 * this long and, woken early, waits again.
 */
const LONGEST_DELAY_MS = 2 ** 31 - 1;

interface Entry extends Expiry {
  readonly run: () => void;
}

/**
 * Runs callbacks at given times (epoch milliseconds), with one timer for all of them.
 *
 * A token's `exp` is in whole seconds, so callbacks are kept in one bucket per second:
 * adding and cancelling one is a Set operation, and the one timer waits for the earliest
 * bucket (a min-heap of bucket seconds). With 10k connections that is 10k Set entries
 * and one timer, where a timer each would be 10k Timeout objects, each re-armed and
 * cleared through Node's timer lists as clients come and go; and a bucket fires all of
 * its connections in one turn, as their tokens expire in the same second.
 */
export class ExpiryClock {
  private readonly buckets = new Map<number, Set<Entry>>();
  /** Bucket seconds, smallest first at [0]; may hold seconds whose bucket is gone. */
  private readonly heap: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;

  /** Calls `run` at `at` (at once, in a later turn, when that has passed). */
  add(at: number, run: () => void): Expiry {
    const second = Math.ceil(at / 1000);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(second, bucket);
      this.push(second);
    }
    const entries = bucket;
    const entry: Entry = {
      run,
      cancel: () => {
        entries.delete(entry);
        if (entries.size === 0 && this.buckets.get(second) === entries) this.buckets.delete(second);
      },
    };
    entries.add(entry);
    this.arm();
    return entry;
  }

  /** Drops everything (shutdown). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.buckets.clear();
    this.heap.length = 0;
  }

  get size(): number {
    let count = 0;
    for (const bucket of this.buckets.values()) count += bucket.size;
    return count;
  }

  private arm(): void {
    // Seconds whose bucket was cancelled away need no timer.
    while (this.heap.length > 0 && !this.buckets.has(this.heap[0] as number)) this.pop();
    const next = this.heap[0];
    if (next === undefined) return;
    const at = next * 1000;
    if (this.timer !== null && this.timerAt <= at) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.min(LONGEST_DELAY_MS, Math.max(0, at - Date.now())));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = Date.now();
    while (this.heap.length > 0 && (this.heap[0] as number) * 1000 <= now) {
      const second = this.pop();
      const bucket = this.buckets.get(second);
      if (bucket === undefined) continue;
      this.buckets.delete(second);
      for (const entry of bucket) {
        try {
          entry.run();
        } catch {
          // One connection's close failing must not keep the others open.
        }
      }
    }
    this.arm();
  }

  private push(second: number): void {
    const heap = this.heap;
    heap.push(second);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as number) <= second) break;
      heap[i] = heap[parent] as number;
      i = parent;
    }
    heap[i] = second;
  }

  private pop(): number {
    const heap = this.heap;
    const top = heap[0] as number;
    const last = heap.pop() as number;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as number) < (heap[left] as number) ? right : left;
      if ((heap[child] as number) >= last) break;
      heap[i] = heap[child] as number;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
