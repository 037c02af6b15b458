import { createHash, timingSafeEqual } from 'node:crypto';
import type { RejectReason } from './metrics';

/** Why a handshake is refused: the HTTP status it gets and the metric reason. */
export interface Refusal {
  readonly status: 401 | 429 | 503;
  readonly reason: RejectReason;
  readonly message: string;
}

export interface AdmissionLimits {
  maxConnections: number;
  /** 0: no limit per address. */
  maxConnectionsPerIp: number;
  /** null: no token needed. */
  chatToken: string | null;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Who may connect. Checked at the handshake, so a refused client costs one HTTP answer
 * and never joins: the shared token, then the connection caps, counted across both
 * kinds of client.
 */
export class Admission {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private readonly tokenDigest: Buffer | null;

  constructor(private readonly limits: AdmissionLimits) {
    this.tokenDigest = limits.chatToken === null ? null : sha256(limits.chatToken);
  }

  get connections(): number {
    return this.total;
  }

  /** True when no token is configured, or `token` is it (compared in constant time). */
  tokenAccepted(token: unknown): boolean {
    if (this.tokenDigest === null) return true;
    return typeof token === 'string' && timingSafeEqual(sha256(token), this.tokenDigest);
  }

  /** The caps; null when a connection from `ip` may open now. */
  capacityRefusal(ip: string): Refusal | null {
    if (this.total >= this.limits.maxConnections) {
      return { status: 503, reason: 'capacity', message: 'Server full, try again later' };
    }
    const max = this.limits.maxConnectionsPerIp;
    if (max > 0 && (this.perIp.get(ip) ?? 0) >= max) {
      return { status: 429, reason: 'capacity', message: 'Too many connections from your address' };
    }
    return null;
  }

  /** Token, then caps: everything a new raw connection needs. */
  refusal(ip: string, token: unknown): Refusal | null {
    if (!this.tokenAccepted(token)) return { status: 401, reason: 'auth', message: 'Missing or wrong token' };
    return this.capacityRefusal(ip);
  }

  /** Counts an accepted connection. */
  admit(ip: string): void {
    this.total += 1;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
  }

  /**
   * Uncounts a connection `admit` counted: call it exactly once per admitted connection,
   * when it closes (no closure per connection guards this: each would cost memory for as
   * long as the connection lives).
   */
  release(ip: string): void {
    this.total -= 1;
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left === 0) this.perIp.delete(ip);
    else this.perIp.set(ip, left);
  }
}
