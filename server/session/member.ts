import type { Identity } from '../access/jwt';
import { ChatError, TYPING_INTERVAL_MS, type ChatErrorCode } from '../protocol';
import { chatTextError } from '../room/chat-text';
import { claimedName, displayName } from '../room/names';
import type { PostOutcome, Room } from '../room/room';
import type { Expiry } from '../support/expiry-clock';
import { jsonBytes } from '../support/json-bytes';
import type { Budget } from '../room/flood-control';
import type { TransportName } from '../support/metrics';
import type { SessionServices } from './services';

/**
 * What a member needs of its wire (the transport's side of one client in one room).
 * A raw client is its own wire; a Socket.IO socket gets one.
 */
export interface MemberWire {
  /** False once the client is gone, or being closed. */
  readonly open: boolean;
  /**
   * The room's history is in memory: send the client what it is owed before it joins
   * (Socket.IO: history and presence; raw: what it missed), then call `join`.
   */
  welcome(join: () => void): void;
  /** Its token expired: end its part in this room. */
  expire(): void;
  /** What the log lines about this client say besides its room and name. */
  fields(): Record<string, unknown>;
}

/** The connection a member is part of (a Session): what the member needs of it. */
export interface MemberConnection {
  readonly services: SessionServices;
  /** Flood control, shared by everything the connection does; null when RATE_LIMIT is 0. */
  readonly budget: Budget | null;
  readonly transport: TransportName;
  readonly ip: string;
  /** The connection is gone: its place and budget go back (see Session.close). */
  close(): void;
}

/**
 * How a post ends, for its sender. The room calls `accepted` (with the message's id,
 * before anyone receives it) or `refused` (the store could not keep it: nobody received
 * it); `rejected` comes at once when the message was never posted.
 */
export interface PostReply extends Required<PostOutcome> {
  rejected(error: ChatErrorCode): void;
}

/**
 * One client in one room, whatever its wire: its name (from the token with JWT), its
 * token's expiry, its entry once the room's history is in memory, its posts and its
 * leave. A raw connection has one; a Socket.IO connection one per room it is in.
 */
export class Member {
  readonly name: string;
  /** With JWT: the token's `sub`, the key presence counts it under; undefined without JWT. */
  readonly user: string | undefined;
  /** In the room and counted there (its welcome is done). */
  joined = false;
  private expiry: Expiry | null = null;
  private lastTypingAt = -Infinity;

  constructor(
    readonly session: MemberConnection,
    readonly room: Room,
    identity: Identity | null,
    requestedName: unknown,
    private readonly wire: MemberWire,
  ) {
    this.name = identity === null ? displayName(requestedName) : claimedName(identity.name, identity.sub);
    this.user = identity?.sub;
    const { logger, expiry } = session.services;
    if (identity?.expiresAt != null) {
      this.expiry = expiry.add(identity.expiresAt, () => {
        logger.info(this.describe(), 'token expired; closing');
        wire.expire();
      });
    }
  }

  /**
   * Comes into the room: counted as on its way until its wire has welcomed it, once the
   * room's stored history is in memory, and then joins (everyone, itself included, is
   * told). A client gone meanwhile never joins.
   */
  enter(): void {
    this.room.arrive();
    const welcome = () => {
      if (this.wire.open) this.wire.welcome(() => this.join());
    };
    if (this.room.loaded) welcome();
    else void this.room.ready.then(welcome);
  }

  /**
   * A chat whose text is checked as Socket.IO's and the API's are: a string, not blank, at
   * most MAX_MESSAGE_BYTES. Refused at once (`reply.rejected`), or posted.
   */
  post(text: unknown, reply: PostReply): void {
    const error = chatTextError(text, this.session.services.maxMessageBytes);
    if (error !== null) {
      this.session.services.metrics.reject(error === ChatError.TooLarge ? 'size' : 'invalid');
      reply.rejected(error);
      return;
    }
    this.postVerbatim(text as string, reply);
  }

  /**
   * A raw frame, which the seed broadcasts verbatim whatever it holds (`ws` has already
   * refused binary, oversize and invalid UTF-8 frames): flood control only.
   */
  postVerbatim(text: string, reply: PostReply): void {
    const { services, budget } = this.session;
    if (budget !== null && !budget.take(jsonBytes(text))) {
      services.metrics.reject('rate');
      reply.rejected(ChatError.RateLimited);
      return;
    }
    services.metrics.messageIn(this.session.transport);
    this.room.post(this.name, text, reply);
  }

  /**
   * "I am typing": whether to relay it. At most one per half TYPING_INTERVAL_MS (a
   * well-behaved client sends one per interval), so that one client cannot make the
   * server fan out a flood.
   */
  typing(): boolean {
    const now = Date.now();
    if (now - this.lastTypingAt < TYPING_INTERVAL_MS / 2) return false;
    this.lastTypingAt = now;
    return true;
  }

  /** What a log line about this client in this room says of it. */
  describe(): Record<string, unknown> {
    return { ...this.wire.fields(), room: this.room.name, name: this.name };
  }

  /** The client is gone from this room (closed, cut, or its room part ended). `fields`: how, for the log. */
  leave(fields: Record<string, unknown>): void {
    this.expiry?.cancel();
    if (!this.joined) {
      this.room.cancelArrival();
      return;
    }
    this.session.services.logger.info({ ...this.describe(), ...fields }, 'connection close');
    this.room.leave(this.name, this.user);
  }

  private join(): void {
    this.joined = true;
    this.session.services.logger.info(this.describe(), 'connection open');
    this.room.join(this.name, this.user);
  }
}
