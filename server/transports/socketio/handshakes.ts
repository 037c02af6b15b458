import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { isRefusal, type Ticket } from '../../access/admission';
import { clientAddress } from '../../access/client-address';
import { rejectUpgrade } from '../../access/reject-upgrade';
import type { Config } from '../../config';
import { UpgradeRefusal } from '../../protocol';
import type { SessionCore } from '../../session/core';
import type { Session } from '../../session/session';
import type { ChatServer, EngineConnection } from './server';

/** A handshake's place in the counts, held until Engine.IO opens its session or refuses it. */
interface Reservation {
  ticket: Ticket;
  /** The response (long-polling) or socket (WebSocket) whose 'close' means the client gave up. */
  closes: ServerResponse | Duplex;
  gone: () => void;
}

/**
 * The connection caps for Socket.IO: a handshake (long-polling or WebSocket) is admitted
 * when it arrives, before its Engine.IO session exists, by its client's address
 * (access/client-address.ts), and the session it opens takes its ticket (and address) over. A Socket.IO client shows its token only once its session is open, in
 * each namespace it joins: until then its place is unproven (see Admission).
 */
export class EngineHandshakes {
  /** Handshakes that passed the caps and have no session yet, by their request. */
  private readonly reservations = new WeakMap<IncomingMessage, Reservation>();

  /**
   * @param opened told of each Engine.IO connection that opened with a place of its own,
   *   with its Session; a connection whose place is gone is closed instead.
   */
  constructor(
    io: ChatServer,
    private readonly core: SessionCore,
    private readonly config: Pick<Config, 'trustProxy'>,
    private readonly opened: (conn: EngineConnection, session: Session) => void,
  ) {
    io.engine.use((req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void) => this.checkPolling(req, res, next));
    io.engine.on('connection', (conn: EngineConnection) => this.open(conn));
    io.engine.on('connection_error', (err: { req: IncomingMessage }) => this.giveUp(err.req));
  }

  /**
   * The caps for a WebSocket handshake (true: it may go on to Engine.IO). An upgrade that
   * carries a sid moves an existing long-polling client to WebSocket: admitted already.
   */
  admitUpgrade(req: IncomingMessage, socket: Duplex, url: URL): boolean {
    if (url.searchParams.has('sid')) return true;
    if (this.core.closing) {
      rejectUpgrade(socket, 503, UpgradeRefusal.ShuttingDown);
      return false;
    }
    const ticket = this.core.admit(clientAddress(req, this.config), 'socket.io', false);
    if (isRefusal(ticket)) {
      rejectUpgrade(socket, ticket.status, ticket.message);
      return false;
    }
    // ws can refuse the upgrade (a bad Sec-WebSocket-Key, say) without telling Engine.IO:
    // the socket closing is then the only sign.
    this.reserve(req, ticket, socket);
    return true;
  }

  /** The caps for a new long-polling client. */
  private checkPolling(req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void): void {
    const isHandshake = req.headers.upgrade === undefined && !new URL(req.url ?? '/', 'http://x').searchParams.has('sid');
    if (!isHandshake) return next();
    // Draining: a proxy's kept-alive connection may still bring a new client here.
    if (this.core.closing) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`${UpgradeRefusal.ShuttingDown}\n`);
      return;
    }
    const ticket = this.core.admit(clientAddress(req, this.config), 'socket.io', false);
    if (isRefusal(ticket)) {
      res.writeHead(ticket.status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`${ticket.message}\n`);
      return;
    }
    this.reserve(req, ticket, res);
    next();
  }

  /**
   * Holds `ticket` for the handshake `req` until Engine.IO opens its session or gives up
   * on it. Engine.IO says when it refuses a handshake ('connection_error'), but a client
   * that goes away while its handshake waits (middlewares and id generation are
   * asynchronous) is only seen by `closes` closing.
   */
  private reserve(req: IncomingMessage, ticket: Ticket, closes: ServerResponse | Duplex): void {
    const gone = () => this.giveUp(req);
    closes.once('close', gone);
    this.reservations.set(req, { ticket, closes, gone });
  }

  /** The handshake `req` will open no session: its place is free again. */
  private giveUp(req: IncomingMessage): void {
    const reservation = this.reservations.get(req);
    if (reservation === undefined) return;
    this.reservations.delete(req);
    reservation.closes.off('close', reservation.gone);
    this.core.release(reservation.ticket);
  }

  /** A new Engine.IO session: the place its handshake reserved is its own until it closes. */
  private open(conn: EngineConnection): void {
    const reservation = this.reservations.get(conn.request);
    this.reservations.delete(conn.request);
    reservation?.closes.off('close', reservation.gone);
    if (reservation === undefined || reservation.ticket.state === 'released') {
      // Its client went away during the handshake, or its place went to a newcomer
      // (evicted while unproven): either way the place is gone.
      conn.close(true);
      return;
    }
    const { ticket } = reservation;
    const session = this.core.open(ticket, 'socket.io');
    ticket.onEvict = () => {
      this.core.logger.info({ transport: 'socket.io', ip: ticket.ip }, 'session without a token evicted to make room');
      // Discarded: a long-polling session without a pending request would otherwise
      // wait for the next one to send its close packet. Its next request gets 400.
      conn.close(true);
    };
    conn.once('close', () => session.close());
    this.opened(conn, session);
  }
}
