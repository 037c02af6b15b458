import { TokenBucket } from './token-bucket';

/**
 * Flood control that follows the address, so that reconnecting does not refill it.
 *
 * Each open connection has a bucket of its own (RATE_BURST at once, then RATE_LIMIT per
 * second). A connection that closes with part of its budget spent leaves its bucket
 * behind for its address until the bucket has refilled, and the next connection from
 * that address, of either kind, takes it over instead of a full one. Without this a
 * client that connects, sends a burst and closes, in a loop, sent bursts without end.
 *
 * Many users behind one address (NAT) are not punished for each other while connected:
 * each open connection keeps its own bucket, and MAX_CONNECTIONS_PER_IP bounds how many
 * buckets one address may hold at once. A user who connects right after a neighbour left
 * with an empty bucket starts with that bucket, full again within RATE_BURST / RATE_LIMIT
 * seconds (2 s by default).
 */
export class FloodControl {
  /** Buckets of closed connections that are not yet full again, by address, most recent last. */
  private readonly leftovers = new Map<string, TokenBucket[]>();
  private readonly refillMs: number;
  private lastSweep: number;

  /** `rateLimit` 0 turns flood control off: every connection gets null. */
  constructor(
    private readonly rateLimit: number,
    private readonly rateBurst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.refillMs = rateLimit === 0 ? 0 : (rateBurst / rateLimit) * 1000;
    this.lastSweep = now();
  }

  /** The bucket for a new connection from `address`: one a closed connection left, or a full one. */
  open(address: string): TokenBucket | null {
    if (this.rateLimit === 0) return null;
    const kept = this.leftovers.get(address);
    const bucket = kept?.pop();
    if (kept !== undefined && kept.length === 0) this.leftovers.delete(address);
    return bucket ?? new TokenBucket(this.rateLimit, this.rateBurst, this.now);
  }

  /** A connection from `address` closed: what it left of its budget stays with the address. */
  close(address: string, bucket: TokenBucket | null): void {
    if (bucket === null || bucket.isFull()) return;
    const kept = this.leftovers.get(address);
    if (kept === undefined) this.leftovers.set(address, [bucket]);
    else kept.push(bucket);
    // Swept here rather than on a timer: leftovers only pile up while connections close.
    if (this.now() - this.lastSweep >= this.refillMs) this.sweep();
  }

  /** Addresses holding leftovers (for tests and metrics). */
  get addresses(): number {
    return this.leftovers.size;
  }

  /** Forgets the buckets that have refilled: a new connection would get a full one anyway. */
  private sweep(): void {
    this.lastSweep = this.now();
    for (const [address, kept] of this.leftovers) {
      const left = kept.filter((bucket) => !bucket.isFull());
      if (left.length === 0) this.leftovers.delete(address);
      else if (left.length < kept.length) this.leftovers.set(address, left);
    }
  }
}
