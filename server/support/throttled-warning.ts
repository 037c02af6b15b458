/**
 * A failure that may repeat many times a second (a dead webhook receiver, a dead publish
 * hook) is logged at most once per interval: each line says how many failures it stands
 * for, so the log neither floods nor hides how often it happens.
 */
export class ThrottledWarning {
  private lastAt = -Infinity;
  private unsaid = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A failure happened: how many failures a line logged now stands for, or 0 when none is due. */
  occurred(): number {
    const now = this.now();
    if (now - this.lastAt < this.intervalMs) {
      this.unsaid += 1;
      return 0;
    }
    this.lastAt = now;
    const failures = this.unsaid + 1;
    this.unsaid = 0;
    return failures;
  }
}
