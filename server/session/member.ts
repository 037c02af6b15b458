import { mayEnter, type Identity, type Role } from '../access/jwt';
import type { PublishHook } from '../hooks/publish-hook';
import {
  ActionError,
  ChatError,
  TYPING_INTERVAL_MS,
  type ChatErrorCode,
  type DeleteAck,
  type EditAck,
  type HistoryAck,
  type ReactAck,
  type ReadAck,
  type Refused,
  type UnreadAck,
  type UserRoom,
  type BanAck,
  type KickAck,
  ModerationError,
} from '../protocol';
import { chatTextError, wellFormed } from '../room/chat-text';
import { claimedName, displayName } from '../room/names';
import type { Room } from '../room/room';
import type { PostOutcome } from '../room/room-seams';
import type { Expiry } from '../support/expiry-clock';
import { jsonBytes } from '../support/json-bytes';
import type { Budget } from '../room/flood-control';
import type { TransportName } from '../support/metrics';
import { StoreUnavailableError, type Actor, type ChangeCallback, type ChangeResult, type StoredPage } from '../store/message-store';
import { editRequest, historyRequest, idRequest, isRequestRefusal, reactRequest } from './requests';
import type { Moderator } from './moderation';
import type { SessionServices } from './services';

/** Without JWT a connection may change the messages it sent, the last this many of them. */
const OWN_IDS = 256;
/** What a request other than chat or edit counts against the byte budget (about what it makes the room send). */
const REQUEST_BYTES = 64;
/** The most rooms one `unread` answer lists. */
const UNREAD_ROOMS = 100;

const RATE_LIMITED: Refused = { ok: false, error: ActionError.RateLimited };
const UNAVAILABLE: Refused = { ok: false, error: ActionError.Unavailable };

/** The answer to a change the room made or refused: `ok` builds the success. */
function settle<A>(answer: (ack: A | Refused) => void, ok: (result: ChangeResult) => A): ChangeCallback {
  return (outcome) => {
    if (outcome instanceof StoreUnavailableError) answer(UNAVAILABLE);
    else if (typeof outcome === 'string') answer({ ok: false, error: outcome });
    else answer(ok(outcome));
  };
}

/** A read answered now or later, as an ack; a store that fails answers `unavailable`. */
function answerRead<T, A>(read: () => T | Promise<T>, answer: (ack: A | Refused) => void, ok: (value: T) => A): void {
  let value: T | Promise<T>;
  try {
    value = read();
  } catch {
    answer(UNAVAILABLE);
    return;
  }
  if (value instanceof Promise) value.then((v) => answer(ok(v)), () => answer(UNAVAILABLE));
  else answer(ok(value));
}

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
  /** `reason`: words for the sender, from the publish hook (with `rejected`, or its `unavailable`). */
  rejected(error: ChatErrorCode, reason?: string): void;
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
  /** With JWT: the token's role (moderator, admin), or null. */
  readonly role: Role | null;
  /** In the room and counted there (its welcome is done). */
  joined = false;
  private expiry: Expiry | null = null;
  private lastTypingAt = -Infinity;
  /** Without JWT: the ids of the messages this connection sent here (made on its first). */
  private own: Set<string> | null = null;
  /** With JWT: the token, for the rooms a moderator may act in. */
  private readonly identity: Identity | null;

  constructor(
    readonly session: MemberConnection,
    readonly room: Room,
    identity: Identity | null,
    requestedName: unknown,
    private readonly wire: MemberWire,
  ) {
    this.name = identity === null ? displayName(requestedName) : claimedName(identity.name, identity.sub);
    this.user = identity?.sub;
    this.role = identity?.role ?? null;
    this.identity = identity;
    const { logger, expiry, moderation } = session.services;
    if (identity !== null && this.role !== null) moderation.notePrivileged(identity.sub, this.role);
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
   * refused binary, oversize and invalid UTF-8 frames): flood control only (and, with
   * PUBLISH_HOOK_URL, the hook's verdict).
   */
  postVerbatim(text: string, reply: PostReply): void {
    const { services, budget } = this.session;
    if (budget !== null && !budget.take(jsonBytes(text))) {
      services.metrics.reject('rate');
      reply.rejected(ChatError.RateLimited);
      return;
    }
    if (this.isMuted()) {
      services.metrics.reject('muted');
      reply.rejected(ChatError.Muted);
      return;
    }
    const { publishHook } = services;
    if (publishHook !== null) return this.postAsked(publishHook, text, reply);
    services.metrics.messageIn(this.session.transport);
    this.room.post(this.name, text, reply, this.user);
  }

  /**
   * PUBLISH_HOOK_URL: the message is posted once the hook allows it (or replaces its text),
   * after the room's messages asked about before it; refused, it reaches nobody.
   */
  private postAsked(hook: PublishHook, text: string, reply: PostReply): void {
    const question = { room: this.room.name, user: this.user, name: this.name, text: wellFormed(text) };
    const { metrics } = this.session.services;
    hook.check(question, (verdict) => {
      if (verdict.action === 'refuse') {
        metrics.reject('publish_hook');
        return reply.rejected(verdict.error, verdict.reason);
      }
      const room = this.roomNow();
      if (room === null) return reply.rejected(ChatError.Unavailable);
      metrics.messageIn(this.session.transport);
      room.post(this.name, verdict.action === 'replace' ? verdict.text : text, reply, this.user);
    });
  }

  /**
   * Its message was stored with this id. Without JWT only this connection may change it
   * (names are self-chosen), while it lasts: the last OWN_IDS of them are remembered.
   */
  posted(id: string): void {
    if (this.user !== undefined) return;
    const own = (this.own ??= new Set());
    own.add(id);
    if (own.size > OWN_IDS) own.delete(own.values().next().value as string);
  }

  /** `{ id, text }`: the author's (JWT: the same `sub`; else this connection's) message gets a new text. */
  edit(request: unknown, answer: (ack: EditAck) => void): void {
    const checked = editRequest(request, this.session.services.maxMessageBytes);
    if (isRequestRefusal(checked)) return answer({ ok: false, error: checked.error });
    if (!this.spend(jsonBytes(checked.text))) return answer(RATE_LIMITED);
    if (this.isMuted()) return answer({ ok: false, error: ActionError.Muted });
    const { id } = checked;
    const text = wellFormed(checked.text);
    const by = this.actorFor(id, false);
    const done = settle(answer, (result) => ({ ok: true as const, version: result.kind === 'edit' ? result.version : 0 }));
    const hook = this.session.services.publishHook;
    if (hook === null) return this.room.change({ kind: 'edit', id, text, by, at: Date.now() }, done);
    // An edit is asked about as a message is (with the id it edits), in the room's order:
    // a filter cannot be got round by posting something harmless and editing it.
    hook.check({ room: this.room.name, user: this.user, name: this.name, text, edit: id }, (verdict) => {
      if (verdict.action === 'refuse') {
        this.session.services.metrics.reject('publish_hook');
        return answer({ ok: false, error: verdict.error, reason: verdict.reason });
      }
      const room = this.roomNow();
      if (room === null) return answer(UNAVAILABLE);
      room.change({ kind: 'edit', id, text: verdict.action === 'replace' ? verdict.text : text, by, at: Date.now() }, done);
    });
  }

  /** `{ id }`: the author's message, or anyone's for a moderator or an admin, becomes a tombstone. */
  remove(request: unknown, answer: (ack: DeleteAck) => void): void {
    const checked = idRequest(request);
    if (isRequestRefusal(checked)) return answer({ ok: false, error: checked.error });
    if (!this.spend(REQUEST_BYTES)) return answer(RATE_LIMITED);
    const done = settle(answer, () => {
      this.session.services.logger.info({ ...this.describe(), id: checked.id, role: this.role }, 'message deleted');
      return { ok: true as const };
    });
    this.room.change({ kind: 'delete', id: checked.id, by: this.actorFor(checked.id, true) }, done);
  }

  /** `{ id, emoji, on }`: this user's reaction (JWT: its `sub`, else its name) added or taken back. */
  react(request: unknown, answer: (ack: ReactAck) => void): void {
    const checked = reactRequest(request);
    if (isRequestRefusal(checked)) return answer({ ok: false, error: checked.error });
    if (!this.spend(REQUEST_BYTES)) return answer(RATE_LIMITED);
    const change = { kind: 'react', ...checked, user: this.user ?? this.name } as const;
    this.room.change(change, settle(answer, (result) => ({ ok: true as const, count: result.kind === 'reaction' ? result.count : 0 })));
  }

  /** `{ before?, limit? }`: a page of the room's older history, from the store. */
  history(request: unknown, answer: (ack: HistoryAck) => void): void {
    const checked = historyRequest(request);
    if (isRequestRefusal(checked)) return answer({ ok: false, error: checked.error });
    if (!this.spend(REQUEST_BYTES)) return answer(RATE_LIMITED);
    answerRead(() => this.room.older(checked.before, checked.limit), answer, (page: StoredPage) => {
      // A page is up to OLDER_PAGE_BYTES for one request: it counts against the byte budget.
      this.session.budget?.spendBytes(jsonBytes(page.messages));
      return { ok: true as const, messages: page.messages, more: page.more };
    });
  }

  /** `{ id }`: this user has read the room up to that message; the room is told. */
  read(request: unknown, answer: (ack: ReadAck) => void): void {
    const checked = idRequest(request);
    if (isRequestRefusal(checked)) return answer({ ok: false, error: checked.error });
    if (!this.spend(REQUEST_BYTES)) return answer(RATE_LIMITED);
    const reader = { name: this.name, user: this.user };
    this.room.change({ kind: 'read', id: checked.id, user: this.user ?? this.name }, settle(answer, () => ({ ok: true as const })), reader);
  }

  /** This user's rooms with a read marker, and what is unread in each. */
  unread(answer: (ack: UnreadAck) => void): void {
    if (!this.spend(REQUEST_BYTES)) return answer(RATE_LIMITED);
    const { store } = this.session.services.rooms;
    answerRead(() => store.userRooms(this.user ?? this.name, UNREAD_ROOMS), answer, (rooms: readonly UserRoom[]) => ({ ok: true as const, rooms: [...rooms] }));
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

  /** `{ user, reason? }`: a moderator ends the user's connections to this room, on every node. */
  kick(request: unknown, answer: (ack: KickAck) => void): void {
    const by = this.moderator();
    if (by === null) return answer({ ok: false, error: ModerationError.Forbidden });
    if (!this.spend(REQUEST_BYTES)) return answer({ ok: false, error: ModerationError.RateLimited });
    answer(this.session.services.moderation.kick(this.room.name, request, by));
  }

  /** `{ user | ip, room?, until?, reason? }`: a moderator bans (`ban`) or mutes (`mute`); the room is this one unless it says. */
  ban(kind: 'ban' | 'mute', request: unknown, answer: (ack: BanAck) => void): void {
    const by = this.moderator();
    if (by === null) return answer({ ok: false, error: ModerationError.Forbidden });
    if (!this.spend(REQUEST_BYTES)) return answer({ ok: false, error: ModerationError.RateLimited });
    void this.session.services.moderation.ban(kind, request, by, this.room.name).then(answer);
  }

  /** This member as a moderator (its token's role, in the rooms its token allows), or null. */
  private moderator(): Moderator | null {
    const { identity, role } = this;
    if (identity === null || role === null) return null;
    return { role, name: identity.sub, mayAct: (room) => role === 'admin' || (room !== null && mayEnter(identity, room)) };
  }

  /**
   * This member's room as it is in memory now, for a message the publish hook has just
   * let through: a member that left meanwhile may have let its room leave memory, and its
   * message goes to the room open under that name (null: no place for it).
   */
  private roomNow(): Room | null {
    return this.session.services.rooms.open(this.room.name);
  }

  /** Muted (or banned) in this room, by user or by address. */
  private isMuted(): boolean {
    const { moderation } = this.session.services;
    // Asked for every post: with no ban in force, nothing more is done.
    return moderation.inForce && moderation.muted({ user: this.user ?? this.name, ip: this.session.ip }, this.room.name) !== null;
  }

  /** Who this member is when it changes message `id`; `moderates`: a moderator or an admin may (delete). */
  private actorFor(id: string, moderates: boolean): Actor {
    if (this.user !== undefined) return moderates && this.role !== null ? 'any' : { user: this.user };
    return this.own?.has(id) === true ? 'any' : 'none';
  }

  /** Flood control for anything but chat: one from the same budget. */
  private spend(bytes: number): boolean {
    const { budget, services } = this.session;
    if (budget === null || budget.take(bytes)) return true;
    services.metrics.reject('rate');
    return false;
  }

  private join(): void {
    this.joined = true;
    this.session.services.logger.info(this.describe(), 'connection open');
    this.room.join(this.name, this.user);
  }
}
