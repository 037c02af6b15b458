/**
 * Delays between reconnection attempts: the step doubles from `minMs` up to `maxMs`, and
 * each delay is drawn uniformly from 0 to the step ("full jitter"), so that clients
 * dropped by the same restart spread over the whole step rather than coming back together.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly minMs = 500,
    private readonly maxMs = 5_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** How many delays were handed out since the last reset: the number of the next attempt. */
  get attempts(): number {
    return this.failures;
  }

  next(): number {
    const step = Math.min(this.maxMs, this.minMs * 2 ** this.failures);
    this.failures += 1;
    return Math.round(this.random() * step);
  }

  reset(): void {
    this.failures = 0;
  }
}
