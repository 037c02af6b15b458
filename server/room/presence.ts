import { MAX_PRESENCE_MEMBERS, type Presence, type PresenceMember } from '../protocol';

/** Connections per name, in one room on one node. */
export class PresenceCount {
  private readonly byName = new Map<string, number>();
  /**
   * The names, sorted: kept in order as names come and go (a binary search and one
   * splice) rather than sorted for each newcomer's presence, which in a join storm of N
   * clients with N names (guests each get their own) would sort N names N times.
   */
  private readonly sorted: string[] = [];
  private total = 0;

  /** A count as another node reported it; entries that are not [name, positive count] are skipped. */
  static from(entries: unknown): PresenceCount {
    const count = new PresenceCount();
    if (!Array.isArray(entries)) return count;
    for (const entry of entries) {
      if (!Array.isArray(entry)) continue;
      const [name, connections] = entry as unknown[];
      if (typeof name !== 'string' || typeof connections !== 'number' || !(connections > 0)) continue;
      count.byName.set(name, (count.byName.get(name) ?? 0) + connections);
      count.total += connections;
    }
    count.sorted.push(...count.byName.keys());
    count.sorted.sort(byCodeUnits);
    return count;
  }

  get online(): number {
    return this.total;
  }

  add(name: string): void {
    const connections = this.byName.get(name);
    if (connections === undefined) this.sorted.splice(this.place(name), 0, name);
    this.byName.set(name, (connections ?? 0) + 1);
    this.total += 1;
  }

  /**
   * One connection of `name` gone. A name not counted here changes nothing: another
   * node's leave whose join this node missed (the bus was down meanwhile) must not make
   * the total disagree with the names until that node's next snapshot.
   */
  remove(name: string): void {
    const connections = this.byName.get(name);
    if (connections === undefined) return;
    if (connections <= 1) {
      this.byName.delete(name);
      this.sorted.splice(this.place(name), 1);
    } else this.byName.set(name, connections - 1);
    this.total -= 1;
  }

  /** [name, connections] pairs, for the other nodes. */
  entries(): [string, number][] {
    return [...this.byName];
  }

  /** The names, sorted by code unit (the order newcomers are sent). */
  names(): readonly string[] {
    return this.sorted;
  }

  connectionsOf(name: string): number {
    return this.byName.get(name) ?? 0;
  }

  /** Where `name` is in `sorted`, or where it would go. */
  private place(name: string): number {
    let low = 0;
    let high = this.sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.sorted[middle] as string) < name) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The presence a newcomer is sent: every node's counts summed per name, sorted by name,
 * the first MAX_PRESENCE_MEMBERS of them (`online` stays exact). Each count's names are
 * already sorted, so this merges them and stops at MAX_PRESENCE_MEMBERS: the cost does
 * not grow with the room.
 */
export function mergePresence(counts: readonly PresenceCount[]): Presence {
  let online = 0;
  for (const count of counts) online += count.online;
  const lists = counts.filter((count) => count.names().length > 0);
  const at = lists.map(() => 0);
  const members: PresenceMember[] = [];
  while (members.length < MAX_PRESENCE_MEMBERS) {
    // The smallest name at the head of any list: few lists (one per node), so a scan.
    let next: string | undefined;
    for (const [i, count] of lists.entries()) {
      const name = count.names()[at[i] as number];
      if (name !== undefined && (next === undefined || name < next)) next = name;
    }
    if (next === undefined) break;
    let connections = 0;
    for (const [i, count] of lists.entries()) {
      if (count.names()[at[i] as number] !== next) continue;
      connections += count.connectionsOf(next);
      at[i] = (at[i] as number) + 1;
    }
    members.push({ name: next, connections });
  }
  return { online, members };
}
