import { UpgradeRefusal } from '../protocol';
import type { RejectReason } from '../support/metrics';

/** Why a handshake is refused: the HTTP status it gets and the metric reason. */
export interface Refusal {
  readonly status: 429 | 503;
  readonly reason: RejectReason;
  readonly message: string;
}

export interface AdmissionLimits {
  maxConnections: number;
  /** 0: no limit per address. */
  maxConnectionsPerIp: number;
}

/**
 * `unproven`: the session has not shown its token yet (an Engine.IO session before it
 * reaches a namespace). `released`: no longer counted.
 */
export type TicketState = 'unproven' | 'proven' | 'released';

/**
 * One admitted connection's place in the counts. Admission hands it out when a handshake
 * passes the caps and takes it back once, at `release` (or when it evicts it); only the
 * Admission that issued it changes its state.
 */
export class Ticket {
  /** Closes the session holding an unproven ticket when Admission takes its place back. */
  onEvict: (() => void) | null = null;

  constructor(
    readonly ip: string,
    public state: TicketState,
    readonly issuer: Admission,
  ) {}
}

/** Narrows what `Admission.admit` answered. */
export function isRefusal(answer: Ticket | Refusal): answer is Refusal {
  return 'status' in answer;
}

/** How many of MAX_CONNECTIONS unproven sessions may hold at once: a quarter, at least one. */
export function unprovenShare(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 4));
}

const FULL: Refusal = { status: 503, reason: 'capacity', message: UpgradeRefusal.ServerFull };
const TOO_MANY_FROM_IP: Refusal = { status: 429, reason: 'capacity', message: UpgradeRefusal.TooManyFromAddress };

/**
 * How many may connect. Checked at the handshake, so a refused client costs one HTTP
 * answer and never joins: the connection caps, counted across both kinds of client. A handshake is counted the moment it passes the caps, not when its
 * connection opens: otherwise handshakes that arrive together (pipelined on one TCP
 * connection, or in one burst) would all pass the check before any was counted.
 *
 * A Socket.IO client shows its token only after its Engine.IO session is open, so the
 * session is counted before anyone knows it may chat. Such unproven sessions could fill
 * the server and lock every token holder out; so they hold at most `unprovenShare` of
 * the places, and when a newcomer finds no room the oldest of them is evicted for it.
 * Not for a newcomer whose address already has an unproven session waiting, though: one
 * address can then neither hold more than the share nor churn through handshakes to push
 * out other clients' handshakes before they could show their token.
 */
export class Admission {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  /** Oldest first (a Set keeps insertion order). At most `maxUnproven`. */
  private readonly unproven = new Set<Ticket>();
  private readonly unprovenPerIp = new Map<string, number>();
  private readonly maxUnproven: number;

  constructor(private readonly limits: AdmissionLimits) {
    this.maxUnproven = unprovenShare(limits.maxConnections);
  }

  get connections(): number {
    return this.total;
  }

  /**
   * The caps: a ticket, counted from now on, when a connection from `ip` may open; the
   * refusal otherwise. `proven`: its token was checked already (raw clients show it in
   * the upgrade). Every ticket must be given back to `release` whatever becomes of the
   * handshake; an unproven one until `prove` may be evicted first (see the class).
   */
  admit(ip: string, proven: boolean): Ticket | Refusal {
    const maxPerIp = this.limits.maxConnectionsPerIp;
    if (maxPerIp > 0 && (this.perIp.get(ip) ?? 0) >= maxPerIp) return TOO_MANY_FROM_IP;
    if (this.total >= this.limits.maxConnections || (!proven && this.unproven.size >= this.maxUnproven)) {
      const oldest = this.unproven.values().next();
      if (oldest.done === true || (!proven && this.unprovenPerIp.has(ip))) return FULL;
      this.evict(oldest.value);
    }
    this.total += 1;
    increment(this.perIp, ip);
    const ticket = new Ticket(ip, proven ? 'proven' : 'unproven', this);
    if (!proven) {
      this.unproven.add(ticket);
      increment(this.unprovenPerIp, ip);
    }
    return ticket;
  }

  /** The session holding `ticket` has shown the token: it keeps its place until it closes. */
  prove(ticket: Ticket): void {
    if (ticket.issuer !== this || ticket.state !== 'unproven') return;
    this.forgetUnproven(ticket);
    ticket.state = 'proven';
    ticket.onEvict = null;
  }

  /**
   * Uncounts what `admit` counted. Only the first call per ticket counts: a handshake
   * can fail in several ways at once (refused by Engine.IO and its socket closed), and
   * an evicted session still reports its close.
   */
  release(ticket: Ticket): void {
    if (ticket.issuer !== this || ticket.state === 'released') return;
    if (ticket.state === 'unproven') this.forgetUnproven(ticket);
    ticket.state = 'released';
    ticket.onEvict = null;
    this.total -= 1;
    decrement(this.perIp, ticket.ip);
  }

  /** Frees `ticket`'s place now (the newcomer needs it), then has its session closed. */
  private evict(ticket: Ticket): void {
    const close = ticket.onEvict;
    this.release(ticket);
    close?.();
  }

  private forgetUnproven(ticket: Ticket): void {
    this.unproven.delete(ticket);
    decrement(this.unprovenPerIp, ticket.ip);
  }
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left === 0) counts.delete(key);
  else counts.set(key, left);
}
