import { Histogram } from './histogram';
import type { ProbeTally } from './ipc';

/**
 * A client worker's side of the storm probes (storm-trial.ts): when each of its clients
 * joined the room, and the probes they got. A client counts as in the room from the
 * moment its first join notice reaches it (its own, or any later one): the server
 * announces a join only to clients it has registered, so a probe sent after that moment
 * reached the server after the client was in the room, and must reach it. Times are
 * clock.ts `nowUs()`, one clock for every process.
 */
export class ProbeLog {
  private readonly joinedUs: number[] = [];
  /** Per client, the probes it got that it had to get (sent after it joined). */
  private readonly owed: number[] = [];
  private readonly histogram = new Histogram();

  /** Client `index` got a join notice. */
  noticed(index: number, atUs: number): void {
    if (this.joinedUs[index] === undefined) this.joinedUs[index] = atUs;
  }

  /**
   * Client `index` got a probe sent at `sentUs`. Only a probe it was owed is counted and
   * timed: so the latency has as many samples as there are deliveries, and a message
   * replayed to a newcomer as history (none here, but a server may) cannot pass for a
   * late probe.
   */
  received(index: number, sentUs: number, atUs: number): void {
    const joined = this.joinedUs[index];
    if (joined === undefined || joined > sentUs) return;
    this.owed[index] = (this.owed[index] ?? 0) + 1;
    this.histogram.record(atUs - sentUs);
  }

  /** Against the probes sent (their send times): how many deliveries were owed, how many came. */
  tally(sentUs: readonly number[]): ProbeTally {
    const joined = this.joinedUs.filter((t) => t !== undefined).sort((a, b) => a - b);
    let expected = 0;
    for (const sent of sentUs) expected += countAtMost(joined, sent);
    const delivered = this.owed.reduce((sum, n) => sum + (n ?? 0), 0);
    return { expected, delivered };
  }

  latency() {
    return this.histogram.toData();
  }
}

/** How many of the sorted `values` are <= `limit`. */
function countAtMost(values: readonly number[], limit: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) <= limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
