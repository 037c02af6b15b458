/**
 * Delays between reconnection attempts: doubling from `minMs` up to `maxMs`, each one
 * drawn from the upper half of its step ("equal jitter"), so that clients dropped by the
 * same restart do not all come back in the same instant, yet none waits much less than
 * the step.
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
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  reset(): void {
    this.failures = 0;
  }
}
