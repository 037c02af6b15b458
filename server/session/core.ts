import { isRefusal, type Refusal, type Ticket } from '../access/admission';
import type { Credentials } from '../access/credentials';
import type { Identity } from '../access/jwt';
import { displayName } from '../room/names';
import type { TransportName } from '../support/metrics';
import type { SessionServices } from './services';
import { Session } from './session';

/** What a SessionCore is built from: the services its sessions use, and the check of what clients show to get in. */
export interface SessionCoreOptions extends SessionServices {
  readonly credentials: Credentials;
}

/**
 * The life of a client connection, written once for every wire (centrifuge's one Client
 * behind its transports): what it shows to get in (`credentials`), its place in the
 * connection counts (`admit`), its Session, and through that its Members, one per room.
 * Transports parse their wire into these calls and write what comes back; they decide
 * nothing of their own about who may do what.
 *
 * It holds its options as they were given (declared once, in SessionServices and
 * SessionCoreOptions: the interface below merges them into the class).
 */
export interface SessionCore extends SessionCoreOptions {}
export class SessionCore {
  /** Set when the server starts shutting down: a handshake still checking its token is then refused. */
  closing = false;

  constructor(options: SessionCoreOptions) {
    Object.assign(this, options);
  }

  /**
   * The connection caps for a new connection from `ip`: a ticket counted from now on, or
   * the refusal (counted and logged). `proven`: its token was checked already (raw clients
   * show it in the upgrade; a Socket.IO client only once its session is open). Every
   * ticket goes back through a Session's close, or `release` if none was opened.
   */
  admit(ip: string, transport: TransportName, proven: boolean): Ticket | Refusal {
    const answer = this.admission.admit(ip, proven);
    if (isRefusal(answer)) {
      this.metrics.reject(answer.reason);
      this.logger.info({ transport, ip, status: answer.status }, `refused: ${answer.reason}`);
    }
    return answer;
  }

  /**
   * Whether a ban keeps a handshake out of `room` (counted when it does): its user is its
   * token's `sub` (`identity`), else the name it asks for, cleaned as its member's will be.
   * With no ban in force, nothing is computed.
   */
  banned(identity: Identity | null, requestedName: unknown, ip: string, room: string): boolean {
    if (!this.moderation.inForce) return false;
    const user = identity?.sub ?? (typeof requestedName === 'string' ? displayName(requestedName) : '');
    if (this.moderation.banned({ user, ip }, room) === null) return false;
    this.metrics.reject('banned');
    return true;
  }

  /** A ticket whose handshake opened no session. */
  release(ticket: Ticket): void {
    this.admission.release(ticket);
  }

  /** The connection holding `ticket` is open. */
  open(ticket: Ticket, transport: TransportName): Session {
    return new Session(this, ticket, transport);
  }
}
