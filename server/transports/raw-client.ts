import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import type { Ticket } from '../access/admission';
import type { Member } from '../room/members';
import type { PostOutcome, Room } from '../room/room';
import { CloseCode, type ChatMessage } from '../protocol';
import type { Budget } from '../room/flood-control';
import type { Expiry } from '../support/expiry-clock';
import type { GroupMember } from './broadcast-group';

/** `text`: the seed's plain strings. `json`: one JSON object per frame. */
export type RawFormat = 'text' | 'json';

/** What the raw transport does with each client's events (see RawClient#listen). */
export interface RawClientHost {
  received(client: RawClient, data: RawData, isBinary: boolean): void;
  failed(client: RawClient, err: Error & { code?: string }): void;
  closed(client: RawClient, code: number): void;
}

/**
 * A client of `/socket`: the `ws` WebSocket itself, with the chat's fields. `ws` builds
 * it (the WebSocketServer's `WebSocket` option), and every client shares the same
 * listener functions, which find their client in `this`, as `ws` does with its own
 * socket listeners. A separate record and four closures per connection cost about half
 * a KiB more per idle client (measured: heap snapshots of 2000 idle clients).
 */
export class RawClient extends WebSocket implements GroupMember, Member, PostOutcome {
  /** Its room. Set before `listen`. */
  room!: Room;
  /** In its room's broadcast group and counted there (after the room's history is in memory). */
  joined = false;
  name = '';
  /** With JWT: its token's `sub`. */
  user: string | undefined = undefined;
  format: RawFormat = 'text';
  /** `?ack=1` (JSON only): each frame it sends is answered with a RawAckFrame, to it alone. */
  acks = false;
  /** The peer's place in Admission's counts, given back when the client closes. Set before `listen`. */
  ticket!: Ticket;
  /** The socket the upgrade handed over; BroadcastGroup writes to it directly. Set before `listen`. */
  socket!: Duplex;
  /** Flood control; null when RATE_LIMIT is 0. */
  budget: Budget | null = null;
  /** Its token's expiry (JWT only), cancelled when it closes. */
  expiry: Expiry | null = null;
  /** Cleared on each ping, set by the pong; still clear at the next ping means dead. */
  alive = true;
  from = 0;
  overSince = 0;
  private host: RawClientHost | null = null;

  get ws(): WebSocket {
    return this;
  }

  /** Hands this client's messages, errors and close to `host`. */
  listen(host: RawClientHost): void {
    this.host = host;
    // Without an 'error' listener one bad frame would throw and take the process down.
    this.on('error', RawClient.onError);
    this.on('pong', RawClient.onPong);
    this.on('message', RawClient.onMessage);
    this.on('close', RawClient.onClose);
  }

  /**
   * Its message is stored, with this id, and about to be broadcast. A client that asked
   * for acks is told first, alone: the broadcast stays one frame for everyone, and the
   * others pay nothing. The room takes one sender's messages in order, so the acks come
   * in the order of its frames.
   */
  accepted(message: ChatMessage): void {
    if (this.acks && this.readyState === RawClient.OPEN) this.send(`{"type":"ack","id":${JSON.stringify(message.id)}}`);
  }

  /**
   * The store refused this client's message: nobody received it. A raw client has no ack
   * to say so, and its echo will never come; closing with 1011 tells it to retry later.
   */
  refused(): void {
    this.close(CloseCode.InternalError, 'Message store unavailable');
  }

  // The listeners, shared by every client. `this` is the client that emitted (a
  // RawClient: only `listen` adds them); @types/ws types it as the base class.

  private static onError(this: WebSocket, err: Error & { code?: string }): void {
    const client = this as RawClient;
    client.host?.failed(client, err);
  }

  private static onPong(this: WebSocket): void {
    (this as RawClient).alive = true;
  }

  private static onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    const client = this as RawClient;
    client.host?.received(client, data, isBinary);
  }

  private static onClose(this: WebSocket, code: number): void {
    const client = this as RawClient;
    client.host?.closed(client, code);
  }
}
