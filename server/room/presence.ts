import { MAX_PRESENCE_MEMBERS, type Presence, type PresenceMember } from '../protocol';

/** Connections per name, in one room on one node. */
export class PresenceCount {
  private readonly byName = new Map<string, number>();
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
    return count;
  }

  get online(): number {
    return this.total;
  }

  add(name: string): void {
    this.byName.set(name, (this.byName.get(name) ?? 0) + 1);
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
    if (connections <= 1) this.byName.delete(name);
    else this.byName.set(name, connections - 1);
    this.total -= 1;
  }

  /** [name, connections] pairs, for the other nodes. */
  entries(): [string, number][] {
    return [...this.byName];
  }
}

/**
 * The presence a newcomer is sent: every node's counts summed per name, sorted by name,
 * the first MAX_PRESENCE_MEMBERS of them (`online` stays exact).
 */
export function mergePresence(counts: Iterable<Iterable<[string, number]>>): Presence {
  const byName = new Map<string, number>();
  let online = 0;
  for (const count of counts) {
    for (const [name, connections] of count) {
      byName.set(name, (byName.get(name) ?? 0) + connections);
      online += connections;
    }
  }
  const members: PresenceMember[] = [...byName]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, MAX_PRESENCE_MEMBERS)
    .map(([name, connections]) => ({ name, connections }));
  return { online, members };
}
