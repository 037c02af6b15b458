import type { Ban, BanKind } from '../protocol';

/** Who a connection is, for the bans: its user (JWT `sub`, else its name) and its address. */
export interface Subject {
  user: string;
  ip: string;
}

/**
 * Every ban and mute in force, indexed by user and by address, so that the check on each
 * handshake and each post costs two map lookups however many bans there are. A node
 * builds it from the ban store and replaces it whenever the store's version changes.
 * Expired bans are skipped as they are met, and go at the next load.
 */
export class BanList {
  private readonly byId = new Map<string, Ban>();
  private readonly byUser = new Map<string, Ban[]>();
  private readonly byIp = new Map<string, Ban[]>();
  /** Ids in order, for the listing's pages; rebuilt lazily after a change. */
  private sortedIds: string[] | null = null;

  constructor(bans: Iterable<Ban> = []) {
    for (const ban of bans) this.add(ban);
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): Ban | undefined {
    return this.byId.get(id);
  }

  add(ban: Ban): void {
    if (this.byId.has(ban.id)) this.remove(ban.id);
    this.byId.set(ban.id, ban);
    if (ban.user !== undefined) push(this.byUser, ban.user, ban);
    if (ban.ip !== undefined) push(this.byIp, ban.ip, ban);
    this.sortedIds = null;
  }

  remove(id: string): Ban | undefined {
    const ban = this.byId.get(id);
    if (ban === undefined) return undefined;
    this.byId.delete(id);
    if (ban.user !== undefined) pull(this.byUser, ban.user, ban);
    if (ban.ip !== undefined) pull(this.byIp, ban.ip, ban);
    this.sortedIds = null;
    return ban;
  }

  /** The ban of `kind` in force at `now` on `who` in `room` (one for every room counts too), or null. */
  find(kind: BanKind, who: Subject, room: string, now: number): Ban | null {
    return first(this.byUser.get(who.user), kind, room, now) ?? first(this.byIp.get(who.ip), kind, room, now);
  }

  /** Bans in id order: the first `limit` after `after`. */
  page(after: string | undefined, limit: number): Ban[] {
    this.sortedIds ??= [...this.byId.keys()].sort();
    const ids = this.sortedIds;
    let start = 0;
    if (after !== undefined) {
      // Binary search: the first id greater than `after`.
      let high = ids.length;
      while (start < high) {
        const mid = (start + high) >>> 1;
        if ((ids[mid] as string) <= after) start = mid + 1;
        else high = mid;
      }
    }
    return ids.slice(start, start + limit).map((id) => this.byId.get(id) as Ban);
  }

  all(): IterableIterator<Ban> {
    return this.byId.values();
  }
}

/** Whether `ban` holds at `now` for `kind` in `room`. A ban also stops posting, as a mute does. */
export function holds(ban: Ban, kind: BanKind, room: string, now: number): boolean {
  if (ban.until !== null && ban.until <= now) return false;
  if (ban.room !== null && ban.room !== room) return false;
  return ban.kind === kind || (kind === 'mute' && ban.kind === 'ban');
}

function first(bans: readonly Ban[] | undefined, kind: BanKind, room: string, now: number): Ban | null {
  if (bans === undefined) return null;
  for (const ban of bans) if (holds(ban, kind, room, now)) return ban;
  return null;
}

function push(map: Map<string, Ban[]>, key: string, ban: Ban): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [ban]);
  else list.push(ban);
}

function pull(map: Map<string, Ban[]>, key: string, ban: Ban): void {
  const list = map.get(key);
  if (list === undefined) return;
  const rest = list.filter((b) => b !== ban);
  if (rest.length === 0) map.delete(key);
  else map.set(key, rest);
}
