/**
 * Flood control for one connection: `burst` messages may go at once, then `ratePerSecond`
 * on average. Refilled lazily from the clock on each take, so an idle connection costs
 * no timer.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Spends one token; false when none is left (the message must be refused). */
  take(): boolean {
    const now = this.now();
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
      this.updatedAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** One bucket per connection, or none at all when RATE_LIMIT is 0. */
export function createRateLimiter(rateLimit: number, rateBurst: number): TokenBucket | null {
  return rateLimit === 0 ? null : new TokenBucket(rateLimit, rateBurst);
}
