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
 * One admitted connection's place in the counts. Admission hands it out when a
 * handshake passes the caps and takes it back once, at `release`.
 */
export interface Ticket {
  readonly ip: string;
}

class Slot implements Ticket {
  released = false;
  constructor(readonly ip: string) {}
}

/** Narrows what `Admission.admit` answered. */
export function isRefusal(answer: Ticket | Refusal): answer is Refusal {
  return 'status' in answer;
}

/**
 * Who may connect. Checked at the handshake, so a refused client costs one HTTP answer
 * and never joins: the shared token, then the connection caps, counted across both
 * kinds of client. A handshake is counted the moment it passes the caps, not when its
 * connection opens: otherwise handshakes that arrive together (pipelined on one TCP
 * connection, or in one burst) would all pass the check before any was counted.
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

  /**
   * The caps: a ticket, counted from now on, when a connection from `ip` may open; the
   * refusal otherwise. Every ticket must be given back to `release` whatever becomes of
   * the handshake.
   */
  admit(ip: string): Ticket | Refusal {
    if (this.total >= this.limits.maxConnections) {
      return { status: 503, reason: 'capacity', message: 'Server full, try again later' };
    }
    const max = this.limits.maxConnectionsPerIp;
    if (max > 0 && (this.perIp.get(ip) ?? 0) >= max) {
      return { status: 429, reason: 'capacity', message: 'Too many connections from your address' };
    }
    this.total += 1;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    return new Slot(ip);
  }

  /**
   * Uncounts what `admit` counted. Only the first call per ticket counts: a handshake
   * can fail in several ways at once (refused by Engine.IO and its socket closed), and
   * each may report it.
   */
  release(ticket: Ticket): void {
    if (!(ticket instanceof Slot) || ticket.released) return;
    ticket.released = true;
    this.total -= 1;
    const left = (this.perIp.get(ticket.ip) ?? 1) - 1;
    if (left === 0) this.perIp.delete(ticket.ip);
    else this.perIp.set(ticket.ip, left);
  }
}
