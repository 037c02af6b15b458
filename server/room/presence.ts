import { MAX_PRESENCE_MEMBERS, type Presence, type PresenceMember } from '../protocol';

/** One member as a node reports it to the others: with JWT, its user comes third. */
export type PresenceEntry = [name: string, connections: number] | [name: string, connections: number, user: string];

/**
 * Where a user is listed: its name, a NUL, the user. Names never hold control characters
 * (names.ts removes them), so this is no name, and sorting these strings sorts members by
 * name, then by user.
 */
function userKey(name: string, user: string): string {
  return `${name}\u0000${user}`;
}

/** The member a key stands for (see userKey), with `connections`. */
function memberOf(key: string, connections: number): PresenceMember {
  const at = key.indexOf('\u0000');
  return at < 0 ? { name: key, connections } : { name: key.slice(0, at), user: key.slice(at + 1), connections };
}

/**
 * Connections per member, in one room on one node. Without JWT a member is a name; with
 * JWT it is a user (`sub`), listed under the name of its first connection counted here,
 * so that two users who show the same name stay two members.
 */
export class PresenceCount {
  /** Connections per member, by its key: the name without JWT, userKey() with it. */
  private readonly byKey = new Map<string, number>();
  /** With JWT: each user's key, fixed by its first connection, whatever names the others show. */
  private readonly userKeys = new Map<string, string>();
  /**
   * The keys, sorted: kept in order as members come and go (a binary search and one
   * splice) rather than sorted for each newcomer's presence, which in a join storm of N
   * clients with N names (guests each get their own) would sort N names N times.
   */
  private readonly sorted: string[] = [];
  private total = 0;

  /** A count as another node reported it; entries that are not a PresenceEntry with a positive count are skipped. */
  static from(entries: unknown): PresenceCount {
    const count = new PresenceCount();
    if (!Array.isArray(entries)) return count;
    for (const entry of entries) {
      if (!Array.isArray(entry)) continue;
      const [name, connections, user] = entry as unknown[];
      if (typeof name !== 'string' || typeof connections !== 'number' || !(connections > 0)) continue;
      if (user !== undefined && typeof user !== 'string') continue;
      let key = name;
      if (user !== undefined) {
        key = count.userKeys.get(user) ?? userKey(name, user);
        count.userKeys.set(user, key);
      }
      count.byKey.set(key, (count.byKey.get(key) ?? 0) + connections);
      count.total += connections;
    }
    count.sorted.push(...count.byKey.keys());
    count.sorted.sort(byCodeUnits);
    return count;
  }

  get online(): number {
    return this.total;
  }

  /** One more connection of `name`, or with JWT of `user` (shown as `name` if it is new here). */
  add(name: string, user?: string): void {
    const key = user === undefined ? name : (this.userKeys.get(user) ?? userKey(name, user));
    const connections = this.byKey.get(key);
    if (connections === undefined) {
      this.sorted.splice(this.place(key), 0, key);
      if (user !== undefined) this.userKeys.set(user, key);
    }
    this.byKey.set(key, (connections ?? 0) + 1);
    this.total += 1;
  }

  /**
   * One connection of `name` (with JWT: of `user`) gone. A member not counted here changes
   * nothing: another node's leave whose join this node missed (the bus was down meanwhile)
   * must not make the total disagree with the members until that node's next snapshot.
   */
  remove(name: string, user?: string): void {
    const key = user === undefined ? name : this.userKeys.get(user);
    const connections = key === undefined ? undefined : this.byKey.get(key);
    if (key === undefined || connections === undefined) return;
    if (connections <= 1) {
      this.byKey.delete(key);
      this.sorted.splice(this.place(key), 1);
      if (user !== undefined) this.userKeys.delete(user);
    } else this.byKey.set(key, connections - 1);
    this.total -= 1;
  }

  /** The members in list order, as reported to the other nodes. */
  entries(): PresenceEntry[] {
    return this.sorted.map((key) => {
      const { name, user, connections } = memberOf(key, this.byKey.get(key) ?? 0);
      return user === undefined ? [name, connections] : [name, connections, user];
    });
  }

  /** The members' keys in list order (see mergePresence). */
  keys(): readonly string[] {
    return this.sorted;
  }

  connectionsAt(key: string): number {
    return this.byKey.get(key) ?? 0;
  }

  /** The connections of `name`, or with JWT of `user`. */
  connectionsOf(name: string, user?: string): number {
    const key = user === undefined ? name : this.userKeys.get(user);
    return key === undefined ? 0 : this.connectionsAt(key);
  }

  /** Where `key` is in `sorted`, or where it would go. */
  private place(key: string): number {
    let low = 0;
    let high = this.sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.sorted[middle] as string) < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The presence a newcomer is sent: every node's counts summed per member, sorted by name
 * (then user), the first MAX_PRESENCE_MEMBERS of them (`online` stays exact). Each count's
 * keys are already sorted, so this merges them and stops at MAX_PRESENCE_MEMBERS: the
 * cost does not grow with the room.
 */
export function mergePresence(counts: readonly PresenceCount[]): Presence {
  let online = 0;
  for (const count of counts) online += count.online;
  const lists = counts.filter((count) => count.keys().length > 0);
  const at = lists.map(() => 0);
  const members: PresenceMember[] = [];
  // A user listed under two names on two nodes (its tokens' `name` claims differ) is one member.
  let byUser: Map<string, PresenceMember> | undefined;
  while (members.length < MAX_PRESENCE_MEMBERS) {
    // The smallest key at the head of any list: few lists (one per node), so a scan.
    let next: string | undefined;
    for (const [i, count] of lists.entries()) {
      const key = count.keys()[at[i] as number];
      if (key !== undefined && (next === undefined || key < next)) next = key;
    }
    if (next === undefined) break;
    let connections = 0;
    for (const [i, count] of lists.entries()) {
      if (count.keys()[at[i] as number] !== next) continue;
      connections += count.connectionsAt(next);
      at[i] = (at[i] as number) + 1;
    }
    const member = memberOf(next, connections);
    if (member.user === undefined) {
      members.push(member);
      continue;
    }
    byUser ??= new Map();
    const seen = byUser.get(member.user);
    if (seen !== undefined) {
      seen.connections += connections;
      continue;
    }
    byUser.set(member.user, member);
    members.push(member);
  }
  return { online, members };
}
