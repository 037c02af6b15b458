import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import { CloseCode, CloseReason, type ChatErrorCode, type ChatMessage, type RawFormat } from '../../protocol';
import type { Member, MemberWire, PostReply } from '../../session/member';
import type { GroupMember } from './broadcast-group';

/** What the raw transport does with each client's events (see RawClient#listen). */
export interface RawClientHost {
  received(client: RawClient, data: RawData, isBinary: boolean): void;
  failed(client: RawClient, err: Error & { code?: string }): void;
  closed(client: RawClient, code: number): void;
  /** Its room's history is in memory: what it missed, its broadcast group, then `join`. */
  welcome(client: RawClient, join: () => void): void;
  /** Its post was refused before it was stored: it has no ack to say so (see PostReply). */
  rejected(client: RawClient, error: ChatErrorCode, reason?: string): void;
}

/**
 * A client of `/socket`: the `ws` WebSocket itself, with what the raw wire keeps of it
 * (its format, its socket and its place in its broadcast group) and its Member. `ws`
 * builds it (the WebSocketServer's `WebSocket` option), and every client shares the same
 * listener functions, which find their client in `this`, as `ws` does with its own
 * socket listeners: no closures per connection (an idle connection costs what it holds).
 *
 * It is its member's wire (MemberWire) and its posts' reply (PostReply): the raw
 * wire's answers are frames and close codes on this very socket.
 */
export class RawClient extends WebSocket implements GroupMember, MemberWire, PostReply {
  /** Set once the upgrade is accepted, before `listen`. */
  member!: Member;
  format: RawFormat = 'text';
  /** `?ack=1` (JSON only): each frame it sends is answered with a RawAckFrame, to it alone. */
  acks = false;
  /** `?since=<id>`: resume after this message (JSON only); cleared once sent. */
  resumeAfter: string | undefined = undefined;
  /** The socket the upgrade handed over; BroadcastGroup writes to it directly. Set before `listen`. */
  socket!: Duplex;
  /**
   * Frames it sent before its room welcomed it (the room's stored history still loading,
   * as with Redis for a room new on this node): handed over again, in order, once it joins.
   */
  held: Buffer[] | null = null;
  /** Set once its room has welcomed it: what it missed (`?since=`), then its join. */
  welcomed = false;
  /** Cleared on each ping, set by the pong; still clear at the next ping means dead. */
  alive = true;
  from = 0;
  overSince = 0;
  private host: RawClientHost | null = null;

  get ws(): WebSocket {
    return this;
  }

  get open(): boolean {
    return this.readyState === WebSocket.OPEN;
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

  welcome(join: () => void): void {
    this.host?.welcome(this, join);
  }

  expire(): void {
    this.close(CloseCode.PolicyViolation, CloseReason.TokenExpired);
  }

  fields(): Record<string, unknown> {
    return { transport: 'raw', format: this.format, ip: this.member.session.ip };
  }

  /**
   * Its message is stored, with this id, and about to be broadcast. A client that asked
   * for acks is told first, alone: the broadcast stays one frame for everyone, and the
   * others pay nothing. The room takes one sender's messages in order, so the acks come
   * in the order of its frames.
   */
  accepted(message: ChatMessage): void {
    // A text-mode client cannot change its messages: nothing to remember for it.
    if (this.format === 'json') this.member.posted(message.id);
    if (this.acks && this.readyState === WebSocket.OPEN) this.send(`{"type":"ack","id":${JSON.stringify(message.id)}}`);
  }

  /**
   * The store refused this client's message: nobody received it. A raw client has no ack
   * to say so, and its echo will never come; closing with 1011 tells it to retry later.
   */
  refused(): void {
    this.close(CloseCode.InternalError, CloseReason.StoreUnavailable);
  }

  rejected(error: ChatErrorCode, reason?: string): void {
    this.host?.rejected(this, error, reason);
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

