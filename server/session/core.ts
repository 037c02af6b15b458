import type { Logger } from 'pino';
import { isRefusal, type Admission, type Refusal, type Ticket } from '../access/admission';
import type { Credentials } from '../access/credentials';
import type { FloodControl } from '../room/flood-control';
import type { Rooms } from '../room/rooms';
import type { ExpiryClock } from '../support/expiry-clock';
import type { Metrics, TransportName } from '../support/metrics';
import type { Moderation } from './moderation';
import type { SessionServices } from './services';
import { Session } from './session';

export interface SessionCoreOptions {
  rooms: Rooms;
  admission: Admission;
  credentials: Credentials;
  /** Message and byte budgets, kept per address across reconnects. */
  floodControl: FloodControl;
  /** Ends each member when its token expires. */
  expiry: ExpiryClock;
  maxMessageBytes: number;
  moderation: Moderation;
  metrics: Metrics;
  logger: Logger;
}

/**
 * The life of a client connection, written once for every wire (centrifuge's one Client
 * behind its transports): what it shows to get in (`credentials`), its place in the
 * connection counts (`admit`), its Session, and through that its Members, one per room.
 * Transports parse their wire into these calls and write what comes back; they decide
 * nothing of their own about who may do what.
 */
export class SessionCore implements SessionServices {
  readonly rooms: Rooms;
  readonly admission: Admission;
  readonly credentials: Credentials;
  readonly floodControl: FloodControl;
  readonly expiry: ExpiryClock;
  readonly maxMessageBytes: number;
  readonly moderation: Moderation;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Set when the server starts shutting down: a handshake still checking its token is then refused. */
  closing = false;

  constructor(options: SessionCoreOptions) {
    ({ rooms: this.rooms, admission: this.admission, credentials: this.credentials } = options);
    ({ floodControl: this.floodControl, expiry: this.expiry, maxMessageBytes: this.maxMessageBytes } = options);
    ({ metrics: this.metrics, logger: this.logger, moderation: this.moderation } = options);
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

  /** A ticket whose handshake opened no session. */
  release(ticket: Ticket): void {
    this.admission.release(ticket);
  }

  /** The connection holding `ticket` is open. */
  open(ticket: Ticket, transport: TransportName): Session {
    return new Session(this, ticket, transport);
  }
}
