import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { BanList, type Subject } from '../access/ban-list';
import type { Role } from '../access/jwt';
import { isRoomName, ModerationError, type Ban, type BanAck, type BanKind, type KickAck, type ModerationErrorCode } from '../protocol';
import type { Rooms } from '../room/rooms';
import type { BanChanges, BanStore } from '../store/ban-store';
import { plainIp } from '../support/ip';

/** How often a node asks the ban store whether another node or worker changed the bans. */
export const BAN_POLL_MS = 500;
/** The longest reason a ban or a kick may give, and the longest user name it may name. */
export const MAX_REASON_LENGTH = 200;
export const MAX_USER_LENGTH = 256;

/**
 * Who acts: the API key and a token with `role: admin` act everywhere; a token with
 * `role: moderator` in the rooms its `rooms` claim allows (`mayAct`), and not against an
 * admin or another moderator.
 */
export interface Moderator {
  role: Role;
  /** What the ban records as its author: `api`, or the moderator's user. */
  name: string;
  /** Whether this moderator may act in `room` (null: every room, which only an admin may). */
  mayAct(room: string | null): boolean;
}

export const API_MODERATOR: Moderator = { role: 'admin', name: 'api', mayAct: () => true };

export interface ModerationOptions {
  store: BanStore;
  rooms: Rooms;
  logger: Logger;
  pollMs?: number;
  now?: () => number;
}

type Refusal = { ok: false; error: ModerationErrorCode };
const refused = (error: ModerationErrorCode): Refusal => ({ ok: false, error });

/**
 * Kicks, bans and mutes, whatever asks (the API, a moderator's socket): who may, what is
 * checked, what is stored (BanStore), and the connections that end. Every node holds the
 * bans in a BanList and checks each handshake and each post against it; whenever the
 * store's version changes it takes what changed since (all of them only when the store
 * no longer knows), so a ban made on another node holds here within BAN_POLL_MS, and
 * ends the connections it covers here.
 */
export class Moderation {
  private list = new BanList();
  private version: number | null = null;
  private refreshing = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  /** Users seen here with a role: a moderator may not act against them. */
  private readonly privileged = new Map<string, Role>();

  private store: BanStore;

  constructor(private readonly options: ModerationOptions) {
    this.now = options.now ?? Date.now;
    this.store = options.store;
  }

  /** The node joined a cluster: its bans are the shared ones. Before `start`. */
  useStore(store: BanStore): void {
    this.store = store;
  }

  /** Loads the bans, then keeps them current. Rejects when the store cannot be read at start. */
  async start(): Promise<void> {
    await this.refresh(false);
    this.timer = setInterval(() => void this.refresh(true), this.options.pollMs ?? BAN_POLL_MS);
    this.timer.unref();
  }

  /** Stops checking for changes, and closes the store. */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await this.store.close();
  }

  /** Whether any ban or mute is in force (or expired and not yet dropped). */
  get inForce(): boolean {
    return this.list.size > 0;
  }

  /** The ban that keeps `who` out of `room` now, or null. Two map lookups. */
  banned(who: Subject, room: string): Ban | null {
    return this.list.size === 0 ? null : this.list.find('ban', { user: who.user, ip: plainIp(who.ip) }, room, this.now());
  }

  /** The mute (or ban) that keeps `who` from posting in `room` now, or null. */
  muted(who: Subject, room: string): Ban | null {
    return this.list.size === 0 ? null : this.list.find('mute', { user: who.user, ip: plainIp(who.ip) }, room, this.now());
  }

  /** A member with a role joined: a moderator may not act against this user. */
  notePrivileged(user: string, role: Role): void {
    this.privileged.set(user, role);
  }

  /** Ends `request.user`'s connections to `room` on every node. */
  kick(room: string, request: unknown, by: Moderator): KickAck {
    const fields = fieldsOf(request);
    const user = fields?.user;
    const reason = reasonOf(fields?.reason);
    if (typeof user !== 'string' || user === '' || user.length > MAX_USER_LENGTH || reason === null) return refused(ModerationError.Invalid);
    if (!by.mayAct(room) || this.protectedFrom(by, user)) return refused(ModerationError.Forbidden);
    // Opened if need be: the room's bus reaches the user's connections on the other nodes.
    const target = this.options.rooms.open(room);
    if (target === null) return refused(ModerationError.Unavailable);
    const connections = target.kick(user, reason || 'kicked');
    this.options.logger.info({ room, user, by: by.name, reason, connections }, 'kicked');
    this.options.rooms.store.events?.record(room, 'moderation.kick', { user, reason: reason || 'kicked', by: by.name }, this.now());
    return { ok: true, connections };
  }

  /**
   * A ban or a mute from `request` (`{ user | ip, room?, until?, reason? }`); a room left
   * out is `here` (a moderator's socket: its room; the API: every room). Stored, then in
   * force here at once and on every node within BAN_POLL_MS; a ban ends the connections
   * it covers.
   */
  async ban(kind: BanKind, request: unknown, by: Moderator, here: string | null): Promise<BanAck> {
    const checked = this.banOf(kind, request, by, here);
    if ('error' in checked) return refused(checked.error);
    try {
      await this.store.add(checked);
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'a ban could not be stored');
      return refused(ModerationError.Unavailable);
    }
    this.list.add(checked);
    this.options.logger.info({ ...checked }, kind === 'ban' ? 'banned' : 'muted');
    this.options.rooms.store.events?.record(checked.room, kind === 'ban' ? 'moderation.ban' : 'moderation.mute', checked, checked.at);
    if (kind === 'ban') this.enforce(checked);
    return { ok: true, ban: checked };
  }

  /** Lifts a ban or a mute: the ban, or null when there is none of this id. */
  async lift(id: string): Promise<Ban | null> {
    const lifted = await this.store.remove(id);
    this.list.remove(id);
    if (lifted !== null) this.options.logger.info({ id, user: lifted.user, ip: lifted.ip, room: lifted.room }, 'ban lifted');
    return lifted;
  }

  /** A page of the bans in force, by id: the first `limit` after `after`; `next` the last id when more follow. */
  page(after: string | undefined, limit: number): { bans: Ban[]; next: string | null } {
    const now = this.now();
    // Expired bans stay in the index until the next load: skipped here, a batch at a time.
    const bans: Ban[] = [];
    let cursor = after;
    while (bans.length <= limit) {
      const batch = this.list.page(cursor, limit + 1 - bans.length);
      if (batch.length === 0) break;
      for (const ban of batch) if (ban.until === null || ban.until > now) bans.push(ban);
      cursor = batch.at(-1)?.id;
    }
    const page = bans.slice(0, limit);
    return { bans: page, next: bans.length > limit ? (page.at(-1)?.id ?? null) : null };
  }

  /** The checked ban of a request, or why it is refused. */
  private banOf(kind: BanKind, request: unknown, by: Moderator, here: string | null): Ban | { error: ModerationErrorCode } {
    const fields = fieldsOf(request);
    if (fields === null) return { error: ModerationError.Invalid };
    const { user, ip, room = here, until = null } = fields;
    const reason = reasonOf(fields.reason);
    const now = this.now();
    if ((user === undefined) === (ip === undefined) || reason === null) return { error: ModerationError.Invalid };
    if (user !== undefined && (typeof user !== 'string' || user === '' || user.length > MAX_USER_LENGTH)) return { error: ModerationError.Invalid };
    if (ip !== undefined && (typeof ip !== 'string' || isIP(ip) === 0)) return { error: ModerationError.Invalid };
    if (room !== null && (typeof room !== 'string' || !isRoomName(room))) return { error: ModerationError.Invalid };
    if (until !== null && (typeof until !== 'number' || !Number.isSafeInteger(until) || until <= now)) return { error: ModerationError.Invalid };
    if (!by.mayAct(room) || (typeof user === 'string' && this.protectedFrom(by, user))) return { error: ModerationError.Forbidden };
    const ban: Ban = { id: banId(now), kind, room, until, reason, at: now, by: by.name };
    if (typeof user === 'string') ban.user = user;
    else ban.ip = plainIp(ip as string);
    return ban;
  }

  /** Whether `user` is out of `by`'s reach: a moderator does not act against an admin or another moderator. */
  private protectedFrom(by: Moderator, user: string): boolean {
    return by.role !== 'admin' && this.privileged.has(user);
  }

  /** Ends this node's connections that `ban` covers: in its room, or in every room here. */
  private enforce(ban: Ban): void {
    const match = (who: Subject) => (ban.user !== undefined ? who.user === ban.user : who.ip === ban.ip);
    const rooms = ban.room === null ? [...this.options.rooms.all()] : [this.options.rooms.get(ban.room)].filter((r) => r !== undefined);
    let ended = 0;
    for (const room of rooms) ended += room.endHere(match, 'banned', true);
    if (ended > 0) this.options.logger.info({ id: ban.id, connections: ended }, 'banned connections ended');
  }

  /**
   * Brings the bans up to the store's version when it changed (another node or worker,
   * or expiry dropped some): applies what changed since this node's version, or loads
   * them all when the store cannot tell (the first time, too many changes, another file
   * or Redis); then ends the connections that the new bans cover here. A store that
   * cannot be read keeps the bans known so far.
   */
  private async refresh(enforce: boolean): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const version = await this.store.version();
      if (version === this.version) return;
      const changes = this.version === null ? null : await this.store.changes(this.version);
      const fresh = changes === null ? await this.reload(version) : this.apply(changes);
      // Bans this node made itself are in its index already, and enforced when made.
      if (enforce) for (const ban of fresh) if (ban.kind === 'ban') this.enforce(ban);
    } catch (err) {
      if (!enforce) throw err;
      this.options.logger.warn({ err: (err as Error).message }, 'bans could not be loaded; keeping the ones known');
    } finally {
      this.refreshing = false;
    }
  }

  /** Replaces the index with every ban in the store at `version`: answers those not in the index before. */
  private async reload(version: number): Promise<Ban[]> {
    const bans = await this.store.load(this.now());
    const before = this.list;
    this.list = new BanList(bans);
    this.version = version;
    return bans.filter((ban) => !before.has(ban.id));
  }

  /** Applies `changes` to the index, a ban at a time: answers the bans not in the index before. */
  private apply(changes: BanChanges): Ban[] {
    for (const id of changes.removed) this.list.remove(id);
    const fresh = changes.added.filter((ban) => !this.list.has(ban.id));
    for (const ban of changes.added) this.list.add(ban);
    this.version = changes.version;
    return fresh;
  }
}

function fieldsOf(request: unknown): Record<string, unknown> | null {
  return typeof request === 'object' && request !== null && !Array.isArray(request) ? (request as Record<string, unknown>) : null;
}

/** A reason as given (none: empty), or null when it is no string or too long. */
function reasonOf(reason: unknown): string | null {
  if (reason === undefined) return '';
  return typeof reason === 'string' && reason.length <= MAX_REASON_LENGTH ? reason : null;
}

/** Ids that sort by time: the milliseconds in base 36, then random bits. */
function banId(now: number): string {
  return `${now.toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
}
