import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type Server as WsServer } from 'ws';
import { isRefusal } from '../../access/admission';
import { clientAddress } from '../../access/client-address';
import { isEntryRefusal, type Entry, type EntryRefusal } from '../../access/credentials';
import { rejectUpgrade } from '../../access/reject-upgrade';
import type { Config } from '../../config';
import { ChatError, CloseCode, CloseReason, RAW_NOT_JOINED, UpgradeRefusal, type ActionErrorCode, type ChatErrorCode, type RawAckFrame, type RawErrorFrame } from '../../protocol';
import type { SessionCore } from '../../session/core';
import type { Room } from '../../room/room';
import { isRoomRefusal, type Session } from '../../session/session';
import { SlowConsumerRule } from '../../session/slow-consumer';
import { wsErrorReason } from '../../support/metrics';
import { RawClient, type RawClientHost } from './client';
import { parseRawQuery, type RawQuery } from './query';
import { replayMissed } from './replay';
import { handleRequest, notJoined, requestOf } from './requests';
import { RawRoomSink } from './sink';

/**
 * Told of each raw client opening and closing: in a worker of WORKERS > 1, the primary's
 * balancer counts them (server/process/sticky-load.ts).
 */
export interface LoadReport {
  opened(): void;
  closed(): void;
}

export interface RawTransportOptions {
  core: SessionCore;
  config: Pick<Config, 'maxMessageBytes' | 'heartbeatMs' | 'maxBufferedBytes' | 'maxBufferedMs' | 'bufferedCeilingBytes' | 'trustProxy'>;
  /** In a worker of WORKERS > 1: tells the primary's balancer about each client. */
  loadReport?: LoadReport;
}

/**
 * ws's code for a message in more than 16384 fragments (its maxFragments) or buffered in
 * too many pieces. ws closes with 1008 itself, the code flood control uses, so these get
 * a log line of their own to tell the two apart.
 */
const TOO_MANY_PARTS = 'WS_ERR_TOO_MANY_BUFFERED_PARTS';

const NOT_JOINED_ACK = JSON.stringify({ type: 'ack', error: RAW_NOT_JOINED } satisfies RawAckFrame);
/**
 * Frames a client may send before its room welcomes it, kept until it joins (and, in all,
 * no more bytes than one message may have). A browser's `onopen = () => ws.send(...)`
 * sends one at once; dozens while a history loads is a flood.
 */
const MAX_HELD_FRAMES = 16;

/**
 * The seed-compatible endpoint: plain WebSocket, text frames, every frame broadcast
 * verbatim to everyone in the room (sender included), the seed's join and leave strings.
 * `/socket` is the lobby, `/socket/<room>` any other room. It parses the wire into session
 * calls (SessionCore) and writes what they answer.
 */
export class RawTransport implements RawClientHost {
  private readonly wss: WsServer<typeof RawClient>;
  private readonly core: SessionCore;
  private readonly loadReport: LoadReport | undefined;
  /** The raw part of each room in memory. */
  private readonly sinks = new Map<string, RawRoomSink>();
  private readonly clients = new Set<RawClient>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly slowConsumers: SlowConsumerRule;
  private readonly config: RawTransportOptions['config'];

  constructor(options: RawTransportOptions) {
    const { core, config } = options;
    this.core = core;
    this.config = config;
    this.loadReport = options.loadReport;
    this.slowConsumers = SlowConsumerRule.fromConfig(config);
    const onSlow = (client: RawClient) => this.cutSlowConsumer(client);
    core.rooms.addSinks((room) => {
      const sink = new RawRoomSink(this.slowConsumers, onSlow, core.metrics, () => this.sinks.delete(room));
      this.sinks.set(room, sink);
      return sink;
    });
    this.wss = new WebSocketServer({
      noServer: true,
      WebSocket: RawClient,
      clientTracking: false,
      // ws would otherwise accept frames of up to 100 MiB; a larger one is closed with 1009.
      maxPayload: config.maxMessageBytes,
      // Off so that a broadcast is framed once for all clients (see BroadcastGroup).
      perMessageDeflate: false,
    });
    this.heartbeat = setInterval(() => this.checkHeartbeats(), config.heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Completes the handshake of an upgrade the router sent here for `roomName` (a
   * well-formed name; its origin already passed).
   *
   * Checking the token may wait for a JWKS fetch (at most its timeout). The socket stays
   * with this handshake meanwhile: every way out answers and destroys it, or hands it to
   * ws, which destroys it too if the client has hung up in the meantime. Nothing is counted
   * before the answer, so a client that leaves costs nothing.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, roomName: string): void {
    const query = parseRawQuery(url.searchParams);
    if ('refusal' in query) {
      this.core.metrics.reject('invalid');
      rejectUpgrade(socket, 400, query.refusal);
      return;
    }
    const ip = clientAddress(req, this.config);
    const checked = this.core.credentials.check(query.token, roomName, 'upgrade', { transport: 'raw', ip });
    if (!(checked instanceof Promise)) return this.checked(req, socket, head, ip, roomName, query, checked);
    checked
      .then((entry) => this.checked(req, socket, head, ip, roomName, query, entry))
      .catch((err: unknown) => {
        // A bug past the token check must cost this handshake only, not the process.
        this.core.logger.error({ err, transport: 'raw', ip }, 'upgrade failed');
        socket.destroy();
      });
  }

  /**
   * The drain, one ending per client: it sends what is pending for the client, closes it
   * with 1012 (service restart) and resolves once the client has closed.
   */
  endings(): (() => Promise<void>)[] {
    return [...this.clients].map((client) => () => this.end(client));
  }

  /** After the drain: whoever has not closed is cut, and nobody is pinged any more. */
  cut(): void {
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.terminate();
  }

  private end(client: RawClient): Promise<void> {
    if (client.readyState === RawClient.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    if (client.member.joined) this.sinks.get(client.member.room.name)?.flush();
    client.close(CloseCode.ServiceRestart, CloseReason.ShuttingDown);
    return closed;
  }

  welcome(client: RawClient, join: () => void): void {
    client.welcomed = true;
    const enter = () => {
      this.sinks.get(client.member.room.name)?.groups[client.format].add(client);
      join();
      this.handOver(client);
    };
    const since = client.resumeAfter;
    client.resumeAfter = undefined;
    // What it missed comes before it joins the broadcast group, so before anything live.
    if (since === undefined) enter();
    else replayMissed(client, since, enter);
  }

  /** ws has already chosen the close code (1007, 1009, ...) when this fires. */
  failed(client: RawClient, err: Error & { code?: string }): void {
    this.core.metrics.reject(wsErrorReason(err.code));
    const fields = { ...client.member.describe(), err: err.message, code: err.code };
    if (err.code === TOO_MANY_PARTS) this.core.logger.info(fields, 'too many message fragments');
    else this.core.logger.debug(fields, 'protocol error');
  }

  received(client: RawClient, data: RawData, isBinary: boolean): void {
    // Once the server has decided to close a client (1003, 1008, shutdown), ws still
    // hands over what it sends until the close handshake ends (up to 30 s for a client
    // that ignores the close frame): none of it goes out.
    if (client.readyState !== RawClient.OPEN) return;
    if (isBinary) {
      this.core.metrics.reject('invalid');
      client.close(CloseCode.UnsupportedData, CloseReason.Binary);
      return;
    }
    if (!client.welcomed) return this.hold(client, data as Buffer);
    // A JSON client's frame may be a request (an edit, a reaction, ...); text-mode frames never are.
    const request = client.format === 'json' ? requestOf(data as Buffer) : null;
    if (request !== null) return client.member.joined ? handleRequest(client, request) : notJoined(client, request);
    if (!client.member.joined) {
      // It is catching up (`?since=`): it has not joined yet. Seed and plain JSON clients
      // hear nothing; one counting its acks is told, to keep count.
      if (client.acks) client.send(NOT_JOINED_ACK);
      return;
    }
    // ws hands text frames over as one Buffer (the default binaryType) and has already
    // checked that they are valid UTF-8; the seed broadcasts every one as it is.
    client.member.postVerbatim((data as Buffer).toString('utf8'), client);
  }

  /** A frame that came before its room welcomed the client: kept for handOver, unless there is too much. */
  private hold(client: RawClient, data: Buffer): void {
    const held = (client.held ??= []);
    let bytes = data.length;
    for (const frame of held) bytes += frame.length;
    if (held.length >= MAX_HELD_FRAMES || bytes > this.config.maxMessageBytes) {
      this.core.metrics.reject('rate');
      return this.rejected(client, ChatError.RateLimited);
    }
    held.push(data);
  }

  /** The client has joined: the frames it sent before are taken now, in order, as if they came now. */
  private handOver(client: RawClient): void {
    const { held } = client;
    if (held === null) return;
    client.held = null;
    for (const data of held) this.received(client, data, false);
  }

  /**
   * Flood control: a raw client has no ack to carry "slow down", so going past its budget
   * closes it. A frame muted, or refused by the publish hook, reaches nobody: a JSON
   * client is told (`{"type":"error","error","reason"?}`), a text one, which has no such
   * frame, not.
   */
  rejected(client: RawClient, error: ChatErrorCode, reason?: string): void {
    if (error !== ChatError.RateLimited) {
      if (client.format !== 'json' || !client.open) return;
      // Only postVerbatim's refusals come here: each of them is an ActionError too.
      const frame: RawErrorFrame = { type: 'error', error: error as ActionErrorCode };
      if (reason !== undefined) frame.reason = reason;
      client.send(JSON.stringify(frame));
      return;
    }
    this.core.logger.info({ ...client.member.describe(), error }, 'rate limit exceeded');
    client.close(CloseCode.PolicyViolation, CloseReason.RateLimited);
  }

  /** ws emits 'close' once per client. */
  closed(client: RawClient, code: number): void {
    this.clients.delete(client);
    this.loadReport?.closed();
    const { member } = client;
    if (member.joined) this.sinks.get(member.room.name)?.groups[client.format].delete(client);
    member.leave({ code });
    member.session.close();
  }

  /** A handshake from client address `ip` whose token was checked: refused, or on to the caps. */
  private checked(req: IncomingMessage, socket: Duplex, head: Buffer, ip: string, roomName: string, query: RawQuery, entry: Entry | EntryRefusal): void {
    if (socket.destroyed) return;
    if (this.core.closing) return rejectUpgrade(socket, 503, UpgradeRefusal.ShuttingDown);
    if (isEntryRefusal(entry)) return rejectUpgrade(socket, entry.status, entry.message);
    if (this.core.banned(entry, query.name, ip, roomName)) return rejectUpgrade(socket, 403, UpgradeRefusal.Banned);
    this.admit(req, socket, head, ip, roomName, query, entry);
  }

  /** The rest of a handshake whose token passed: the caps' answer, the room, the 101. */
  private admit(req: IncomingMessage, socket: Duplex, head: Buffer, ip: string, roomName: string, query: RawQuery, entry: Entry): void {
    const ticket = this.core.admit(ip, 'raw', true);
    if (isRefusal(ticket)) return rejectUpgrade(socket, ticket.status, ticket.message);
    const session = this.core.open(ticket, 'raw');
    const room = session.claimRoom(roomName);
    if (isRoomRefusal(room)) {
      session.close();
      return rejectUpgrade(socket, 503, UpgradeRefusal.RoomLimit);
    }
    // Told before the 101 goes out, so the primary counts this client before the client
    // can open its next connection (see sticky-load.ts). ws completes the handshake and
    // calls back synchronously, or not at all when it refused it.
    this.loadReport?.opened();
    let accepted = false;
    this.wss.handleUpgrade(req, socket, head, (client) => {
      accepted = true;
      this.accept(client, socket, session, room, query, entry);
    });
    if (accepted) return;
    session.close();
    this.loadReport?.closed();
  }

  private accept(client: RawClient, socket: Duplex, session: Session, room: Room, query: RawQuery, entry: Entry): void {
    client.format = query.format;
    client.acks = query.acks;
    client.resumeAfter = query.since;
    client.socket = socket;
    client.member = session.member(room, entry, query.name, client);
    client.listen(this);
    this.clients.add(client);
    client.member.enter();
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
        this.core.logger.info(client.member.describe(), 'no pong since the last ping; terminating');
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
    this.core.metrics.reject('slow_consumer');
    const fields = { ...client.member.describe(), buffered: client.socket.writableLength };
    this.core.logger.info(fields, 'slow consumer; terminating');
    client.terminate();
  }
}
