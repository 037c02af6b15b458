import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type Server as WsServer } from 'ws';
import { isRefusal, type Admission, type Refusal, type Ticket } from '../access/admission';
import { isTokenRefusal, mayEnter, type Identity, type JwtVerifier } from '../access/jwt';
import type { Config } from '../config';
import type { FloodControl } from '../room/flood-control';
import type { Members } from '../room/members';
import { isMessageId } from '../store/message-id';
import { claimedName, displayName } from '../room/names';
import type { Room, RoomSink } from '../room/room';
import type { Rooms } from '../room/rooms';
import { withDeadline } from '../support/deadline';
import type { ExpiryClock } from '../support/expiry-clock';
import { wsErrorReason, type Metrics } from '../support/metrics';
import {
  CloseCode,
  RAW_NOT_JOINED,
  type ChatMessage,
  type RawAckFrame,
  type Notice,
  type RawJsonFrame,
} from '../protocol';
import { rejectUpgrade } from '../access/reject-upgrade';
import { BroadcastGroup } from './broadcast-group';
import { replayMissed } from './raw-replay';
import { RawClient, type RawClientHost, type RawFormat } from './raw-client';
import { SlowConsumerRule } from './slow-consumer';

export type { RawFormat } from './raw-client';

/** What a raw client asked for in its upgrade, once it passed every check. */
interface RawEntry {
  room: Room;
  name: string;
  format: RawFormat;
  since: string | undefined;
  /** `?ack=1`: answer each of its frames with a RawAckFrame, to it alone. */
  acks: boolean;
  ticket: Ticket;
  /** From the client's JWT; null without JWT. */
  identity: Identity | null;
}

/**
 * Told of each raw client opening and closing: in a worker of WORKERS > 1, the primary's
 * balancer counts them (server/process/sticky-load.ts).
 */
export interface LoadReport {
  opened(): void;
  closed(): void;
}

export interface RawTransportOptions {
  rooms: Rooms;
  members: Members;
  config: Config;
  admission: Admission;
  /** Message budgets, kept per address across reconnects. */
  floodControl: FloodControl;
  metrics: Metrics;
  logger: Logger;
  /** In a worker of WORKERS > 1: tells the primary's balancer about each client. */
  loadReport?: LoadReport;
  /** Set when clients need a JWT (then CHAT_TOKEN is unset). */
  jwt?: JwtVerifier | null;
  /** Ends each client when its token expires. */
  expiry: ExpiryClock;
}

/**
 * What each log line about a client carries, built when a line is written. Not a child
 * logger per connection: that would hold about 0.45 KiB (measured with the raw join
 * storm) for as long as the connection lives, for the few lines it writes.
 */
function clientFields(client: RawClient) {
  return { transport: 'raw', room: client.room.name, name: client.name, format: client.format };
}

/**
 * ws's code for a message in more than 16384 fragments (its maxFragments) or buffered in
 * too many pieces. ws closes with 1008 itself, the code flood control uses, so these get
 * a log line of their own to tell the two apart.
 */
const TOO_MANY_PARTS = 'WS_ERR_TOO_MANY_BUFFERED_PARTS';

const NOT_JOINED_ACK = JSON.stringify({ type: 'ack', error: RAW_NOT_JOINED } satisfies RawAckFrame);

/**
 * The raw clients of one room: one broadcast group per format, each message framed once
 * per format for all of them.
 */
class RawRoomSink implements RoomSink {
  readonly groups: Record<RawFormat, BroadcastGroup<RawClient>>;

  constructor(
    slowConsumers: SlowConsumerRule,
    onSlow: (client: RawClient) => void,
    private readonly metrics: Metrics,
    private readonly forget: () => void,
  ) {
    this.groups = { text: new BroadcastGroup(slowConsumers, onSlow), json: new BroadcastGroup(slowConsumers, onSlow) };
  }

  chat(message: ChatMessage): void {
    this.publish(message.text, () => ({ type: 'chat', ...message }));
  }

  notice(notice: Notice): void {
    this.publish(notice.text, () => ({ type: 'notice', ...notice }));
  }

  /** Writes everything pending now (before clients are closed, so nothing is lost). */
  flush(): void {
    this.groups.text.flush();
    this.groups.json.flush();
  }

  dispose(): void {
    this.forget();
  }

  /**
   * Seed clients get the text as it is; JSON clients the frame, built and encoded only
   * if one listens (most rooms have none: this runs for every message).
   */
  private publish(text: string, frame: () => RawJsonFrame): void {
    let count = this.groups.text.publish(text);
    if (this.groups.json.size > 0) count += this.groups.json.publish(JSON.stringify(frame()));
    this.metrics.delivered('raw', count);
  }
}

/**
 * The seed-compatible endpoint: plain WebSocket, text frames, every frame broadcast
 * verbatim to everyone in the room (sender included), the seed's join and leave strings.
 * `/socket` is the lobby, `/socket/<room>` any other room.
 */
export class RawTransport implements RawClientHost {
  private readonly wss: WsServer<typeof RawClient>;
  private readonly rooms: Rooms;
  private readonly members: Members;
  private readonly config: Config;
  private readonly admission: Admission;
  private readonly floodControl: FloodControl;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly loadReport: LoadReport | undefined;
  private readonly jwt: JwtVerifier | null;
  private readonly expiry: ExpiryClock;
  /** Set by `close`: a handshake still verifying its token then gets 503. */
  private closing = false;
  /** The raw part of each room in memory. */
  private readonly sinks = new Map<string, RawRoomSink>();
  private readonly clients = new Set<RawClient>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly slowConsumers: SlowConsumerRule;

  constructor(options: RawTransportOptions) {
    ({ rooms: this.rooms, members: this.members, config: this.config, admission: this.admission } = options);
    ({ metrics: this.metrics, logger: this.logger } = options);
    this.floodControl = options.floodControl;
    this.loadReport = options.loadReport;
    this.jwt = options.jwt ?? null;
    this.expiry = options.expiry;
    this.slowConsumers = SlowConsumerRule.fromConfig(this.config);
    const onSlow = (client: RawClient) => this.cutSlowConsumer(client);
    this.rooms.addSinks((room) => {
      const sink = new RawRoomSink(this.slowConsumers, onSlow, this.metrics, () => this.sinks.delete(room));
      this.sinks.set(room, sink);
      return sink;
    });
    this.wss = new WebSocketServer({
      noServer: true,
      WebSocket: RawClient,
      clientTracking: false,
      // ws would otherwise accept frames of up to 100 MiB; a larger one is closed with 1009.
      maxPayload: this.config.maxMessageBytes,
      // Off so that a broadcast is framed once for all clients (see BroadcastGroup).
      perMessageDeflate: false,
    });
    this.heartbeat = setInterval(() => this.checkHeartbeats(), this.config.heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Completes the handshake of an upgrade the router sent here for `roomName` (a
   * well-formed name; its origin already passed).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, roomName: string): void {
    const format = url.searchParams.get('format') ?? 'text';
    if (format !== 'text' && format !== 'json') {
      this.metrics.reject('invalid');
      rejectUpgrade(socket, 400, 'format must be "text" or "json"');
      return;
    }
    const since = url.searchParams.get('since') ?? undefined;
    if (since !== undefined && (format !== 'json' || !isMessageId(since))) {
      this.metrics.reject('invalid');
      rejectUpgrade(socket, 400, 'since needs format=json and a message id like 1700000000000-0');
      return;
    }
    const ack = url.searchParams.get('ack');
    if (ack !== null && (format !== 'json' || ack !== '1')) {
      this.metrics.reject('invalid');
      rejectUpgrade(socket, 400, 'ack needs format=json and the value 1');
      return;
    }
    const acks = ack !== null;
    const ip = req.socket.remoteAddress ?? 'unknown';
    if (this.jwt === null) {
      const admitted: Ticket | Refusal = this.admission.tokenAccepted(url.searchParams.get('token') ?? undefined)
        ? this.admission.admit(ip, true)
        : { status: 401, reason: 'auth', message: 'Missing or wrong token' };
      const name = displayName(url.searchParams.get('name') ?? undefined);
      this.admitted(req, socket, head, roomName, admitted, { name, format, since, acks, identity: null });
      return;
    }
    // Verifying may wait for a JWKS fetch (at most its timeout). The socket stays with
    // this handshake meanwhile: every way out below answers and destroys it, or hands it
    // to ws, which destroys it too if the client has hung up in the meantime. Nothing is
    // counted before the answer, so a client that leaves costs nothing. (This router owns
    // every upgrade: engine.io's destroyUpgradeTimeout, which ends sockets left unanswered
    // for a second, is not listening.)
    void this.jwt.verify(url.searchParams.get('token') ?? undefined).then((identity) => {
      if (socket.destroyed) return;
      if (this.closing) {
        rejectUpgrade(socket, 503, 'Server shutting down');
        return;
      }
      if (isTokenRefusal(identity) || (identity.expiresAt !== null && identity.expiresAt <= Date.now())) {
        const reason = isTokenRefusal(identity) ? identity : 'expired';
        this.metrics.reject('auth');
        this.logger.info({ transport: 'raw', ip, status: 401, reason }, 'upgrade refused: token');
        rejectUpgrade(socket, 401, 'Missing or invalid token');
        return;
      }
      if (!mayEnter(identity, roomName)) {
        this.metrics.reject('forbidden');
        this.logger.info({ transport: 'raw', ip, status: 403, room: roomName, sub: identity.sub }, 'upgrade refused: room not in token');
        rejectUpgrade(socket, 403, 'Your token does not allow this room');
        return;
      }
      const name = claimedName(identity.name, identity.sub);
      this.admitted(req, socket, head, roomName, this.admission.admit(ip, true), { name, format, since, acks, identity });
    }).catch((err: unknown) => {
      // A bug past the verification must cost this handshake only, not the process.
      this.logger.error({ err, transport: 'raw', ip }, 'upgrade failed');
      socket.destroy();
    });
  }

  /** The rest of a handshake whose token passed: the caps' answer, the room, the 101. */
  private admitted(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    roomName: string,
    admitted: Ticket | Refusal,
    entry: Omit<RawEntry, 'room' | 'ticket'>,
  ): void {
    const ip = req.socket.remoteAddress ?? 'unknown';
    if (isRefusal(admitted)) {
      this.metrics.reject(admitted.reason);
      this.logger.info({ transport: 'raw', ip, status: admitted.status }, `upgrade refused: ${admitted.reason}`);
      rejectUpgrade(socket, admitted.status, admitted.message);
      return;
    }
    const room = this.rooms.open(roomName);
    if (room === null) {
      this.admission.release(admitted);
      this.metrics.reject('room_limit');
      this.logger.info({ transport: 'raw', ip, room: roomName }, 'upgrade refused: room limit');
      rejectUpgrade(socket, 503, 'Too many rooms on this server, try again later');
      return;
    }
    // Told before the 101 goes out, so the primary counts this client before the client
    // can open its next connection (see sticky-load.ts). ws completes the handshake and
    // calls back synchronously, or not at all when it refused it.
    this.loadReport?.opened();
    let accepted = false;
    this.wss.handleUpgrade(req, socket, head, (client) => {
      accepted = true;
      this.accept(client, socket, { ...entry, room, ticket: admitted });
    });
    if (accepted) return;
    this.admission.release(admitted);
    this.loadReport?.closed();
  }

  /**
   * Shutdown: sends what is pending, then closes every client with 1001 (going away).
   * Resolves when all have closed, or after `graceMs`, when the rest are cut.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    for (const sink of this.sinks.values()) sink.flush();
    const closed = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.once('close', () => resolve());
          client.close(CloseCode.GoingAway, 'Server shutting down');
        }),
    );
    await withDeadline(Promise.all(closed), graceMs);
    for (const client of this.clients) client.terminate();
  }

  private accept(client: RawClient, socket: Duplex, entry: RawEntry): void {
    const { room, format, since, ticket } = entry;
    client.room = room;
    client.name = entry.name;
    client.user = entry.identity?.sub;
    client.format = format;
    client.acks = entry.acks;
    client.ticket = ticket;
    client.socket = socket;
    client.budget = this.floodControl.open(ticket.ip);
    const expiresAt = entry.identity?.expiresAt ?? null;
    if (expiresAt !== null) {
      client.expiry = this.expiry.add(expiresAt, () => {
        this.logger.info(clientFields(client), 'token expired; closing');
        client.close(CloseCode.PolicyViolation, 'token expired');
      });
    }
    client.listen(this);
    this.clients.add(client);
    room.arrive();
    const join = () => {
      this.sinks.get(room.name)?.groups[format].add(client);
      client.joined = true;
      this.members.join(client, { transport: 'raw', format, ip: ticket.ip });
    };
    const enter = () => {
      if (client.readyState !== RawClient.OPEN) return; // gone while the room's history was loading
      // What it missed comes before it joins the broadcast group, so before anything live.
      if (since === undefined) join();
      else replayMissed(client, since, join);
    };
    if (room.loaded) enter();
    else void room.ready.then(enter);
  }

  /** ws has already chosen the close code (1007, 1009, ...) when this fires. */
  failed(client: RawClient, err: Error & { code?: string }): void {
    this.metrics.reject(wsErrorReason(err.code));
    const fields = { ...clientFields(client), err: err.message, code: err.code };
    if (err.code === TOO_MANY_PARTS) this.logger.info(fields, 'too many message fragments');
    else this.logger.debug(fields, 'protocol error');
  }

  received(client: RawClient, data: RawData, isBinary: boolean): void {
    // Once the server has decided to close a client (1003, 1008, shutdown), ws still
    // hands over what it sends until the close handshake ends (up to 30 s for a client
    // that ignores the close frame): none of it goes out.
    if (client.readyState !== RawClient.OPEN) return;
    if (isBinary) {
      this.metrics.reject('invalid');
      client.close(CloseCode.UnsupportedData, 'Binary frames are not supported');
      return;
    }
    if (!client.joined) {
      // Its room's history is still loading: it has not joined yet. Seed and plain JSON
      // clients hear nothing, as before; one counting its acks is told, to keep count.
      if (client.acks) client.send(NOT_JOINED_ACK);
      return;
    }
    // ws hands text frames over as one Buffer (the default binaryType) and has already
    // checked that they are valid UTF-8; the seed broadcasts every one as it is.
    const refused = this.members.post(client, 'raw', (data as Buffer).toString('utf8'), false, client);
    if (refused === null) return;
    // A raw client has no ack to carry "slow down", so going past the burst closes it.
    this.logger.info(clientFields(client), 'rate limit exceeded');
    client.close(CloseCode.PolicyViolation, 'Rate limit exceeded');
  }

  /** ws emits 'close' once per client. */
  closed(client: RawClient, code: number): void {
    this.clients.delete(client);
    client.expiry?.cancel();
    this.admission.release(client.ticket);
    this.floodControl.close(client.budget);
    this.loadReport?.closed();
    if (!client.joined) {
      client.room.abandon();
      return;
    }
    this.sinks.get(client.room.name)?.groups[client.format].delete(client);
    this.members.leave(client, { transport: 'raw', format: client.format, code });
  }

  /**
   * The standard ws heartbeat: ping everyone; whoever did not answer the last ping is
   * gone. A client whose ping still waits behind more than MAX_BUFFERED_BYTES it has not
   * read had a whole interval to drain and did not: that is a slow consumer.
   */
  private checkHeartbeats(): void {
    for (const client of this.clients) {
      if (this.slowConsumers.judge(client, client.socket.writableLength) === 'cut') {
        this.cutSlowConsumer(client);
        continue;
      }
      if (!client.alive) {
        if (this.slowConsumers.isBehind(client.socket.writableLength)) {
          this.cutSlowConsumer(client);
          continue;
        }
        this.logger.info(clientFields(client), 'no pong since the last ping; terminating');
        client.terminate();
        continue;
      }
      client.alive = false;
      client.ping();
    }
  }

  /**
   * A close frame would queue behind the megabytes the client is not reading, so the
   * connection is cut; the 'close' handler then announces the leave, once.
   */
  private cutSlowConsumer(client: RawClient): void {
    if (client.socket.destroyed) return; // cut already; its 'close' is on the way
    this.metrics.reject('slow_consumer');
    this.logger.info({ ...clientFields(client), buffered: client.socket.writableLength }, 'slow consumer; terminating');
    client.terminate();
  }
}
