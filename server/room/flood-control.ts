/**
 * Flood control that follows the address, so that reconnecting, or opening several
 * connections, gets no more through than one connection would.
 *
 * Two budgets:
 * - Messages. Each open connection earns RATE_LIMIT per second of its own (up to
 *   RATE_BURST), so that many users behind one address (NAT) are not slowed by each other
 *   while they chat. What it sends beyond what it earned, a new connection's burst
 *   above all, is drawn from its address's credit, which holds RATE_BURST and refills at
 *   RATE_LIMIT; what it earned and sent is owed to the credit too. So a loop of connect,
 *   burst, close gets RATE_BURST once and then RATE_LIMIT per second, however its
 *   connections overlap, and an idle connection holds nothing back from the others.
 * - Bytes. What an address's messages make the server send, as encoded (JSON, where a
 *   control character is six bytes), RATE_BURST_BYTES at once then RATE_LIMIT_BYTES per
 *   second for all of its connections together: what a reader must take stays bounded,
 *   so a reader that drains is never cut for what others were allowed to send.
 */
import { TokenBucket } from './token-bucket';

export interface FloodLimits {
  /** Messages per second per connection; 0 turns flood control off (bytes too). */
  readonly rateLimit: number;
  /** Messages a connection may send at once, drawn from its address's credit. */
  readonly rateBurst: number;
  /** Encoded bytes per second per address; 0: no byte budget. */
  readonly byteRate: number;
  /** Encoded bytes an address may send at once. */
  readonly byteBurst: number;
}

/** What one address holds: the credit its connections' bursts come from, and its bytes. */
class AddressBudget {
  connections = 0;
  constructor(
    /** May go as far below zero as one burst: messages sent past the credit are owed. */
    readonly credit: TokenBucket,
    readonly bytes: TokenBucket | null,
  ) {}

  isIdle(): boolean {
    return this.connections === 0 && this.credit.isFull() && (this.bytes === null || this.bytes.isFull());
  }
}

/** One connection's flood budget: `take` for each message it sends. */
export class Budget {
  constructor(
    /** What it earned while open: RATE_LIMIT per second, up to RATE_BURST. Empty when it opens. */
    private readonly own: TokenBucket,
    readonly address: AddressBudget,
  ) {}

  /** Spends one message of `encodedBytes`; false when the budgets say no (nothing is spent then). */
  take(encodedBytes: number): boolean {
    const bytes = this.address.bytes;
    if (bytes !== null && !bytes.canTake(encodedBytes)) return false;
    // What it earned is owed to the address too, so that a steady sender that reconnects
    // finds the credit as spent as it left it.
    if (this.own.take()) this.address.credit.spend(1);
    else if (!this.address.credit.take()) return false;
    bytes?.spend(encodedBytes);
    return true;
  }

  /**
   * What an answer to this connection alone cost (a page of history), once it is known:
   * spent from the address's bytes whatever is left, so that the next requests wait.
   */
  spendBytes(encodedBytes: number): void {
    this.address.bytes?.spend(encodedBytes);
  }
}

export class FloodControl {
  private readonly addresses = new Map<string, AddressBudget>();
  private readonly sweepMs: number;
  private lastSweep: number;

  constructor(
    private readonly limits: FloodLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.sweepMs = limits.rateLimit === 0 ? 0 : (limits.rateBurst / limits.rateLimit) * 1000;
    this.lastSweep = now();
  }

  /** The budget of a new connection from `address`; null when flood control is off. */
  open(address: string): Budget | null {
    const { rateLimit, rateBurst, byteRate, byteBurst } = this.limits;
    if (rateLimit === 0) return null;
    let held = this.addresses.get(address);
    if (held === undefined) {
      const credit = new TokenBucket(rateLimit, rateBurst, this.now, -rateBurst);
      const bytes = byteRate === 0 ? null : new TokenBucket(byteRate, byteBurst, this.now, Number.NEGATIVE_INFINITY);
      held = new AddressBudget(credit, bytes);
      this.addresses.set(address, held);
    }
    held.connections += 1;
    return new Budget(new TokenBucket(rateLimit, rateBurst, this.now, 0, 0), held);
  }

  /** A connection closed. */
  close(budget: Budget | null): void {
    if (budget === null) return;
    budget.address.connections -= 1;
    // Swept here rather than on a timer: addresses only pile up while connections close.
    if (this.now() - this.lastSweep >= this.sweepMs) this.sweep();
  }

  /** Addresses held (for tests and metrics). */
  get size(): number {
    return this.addresses.size;
  }

  /** Forgets addresses with no connection whose budgets have refilled: a new one would get the same. */
  private sweep(): void {
    this.lastSweep = this.now();
    for (const [address, held] of this.addresses) if (held.isIdle()) this.addresses.delete(address);
  }
}
