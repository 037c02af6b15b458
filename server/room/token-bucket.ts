/**
 * A budget that refills at `ratePerSecond` up to `capacity`: `capacity` may be spent at
 * once, then the rate on average. Refilled lazily from the clock on each look, so an idle
 * budget costs no timer. It may be spent down to `floor` (below zero: a debt that the
 * refill pays off first).
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
    private readonly floor = 0,
    initial = capacity,
  ) {
    this.tokens = initial;
    this.updatedAt = now();
  }

  /** Spends one token; false when none is left (the message must be refused). */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Whether `amount` may be spent now. Something larger than the whole capacity may be
   * spent once the bucket is full, leaving a debt: it is never refused for ever.
   */
  canTake(amount: number): boolean {
    this.refill();
    return this.tokens >= Math.min(amount, this.capacity);
  }

  /** Spends `amount` whatever is left, down to the floor. */
  spend(amount: number): void {
    this.refill();
    this.tokens = Math.max(this.floor, this.tokens - amount);
  }

  /** True once the whole capacity is back: the bucket is then as good as a new one. */
  isFull(): boolean {
    this.refill();
    return this.tokens >= this.capacity;
  }

  private refill(): void {
    const now = this.now();
    if (now <= this.updatedAt) return;
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
    this.updatedAt = now;
  }
}
