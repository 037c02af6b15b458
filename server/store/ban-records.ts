/** What the ban stores share: a ban as they keep it (JSON), when it has expired, and what their logs of changes tell. */
import type { Ban } from '../protocol';

/** Whether `ban` is no longer in force at `now`: a ban holds until `until`, not at it. */
export function expired(ban: Pick<Ban, 'until'>, now: number): boolean {
  return ban.until !== null && ban.until <= now;
}

export function encodeBan(ban: Ban): string {
  return JSON.stringify(ban);
}

/** The ban kept as `json`, or null when it is not one (a file or hash written by hand): such a record is skipped, not fatal. */
export function decodeBan(json: string): Ban | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const ban = value as Partial<Ban>;
  if (typeof ban.id !== 'string' || (ban.until !== null && typeof ban.until !== 'number')) return null;
  return ban as Ban;
}

/** Orders bans by id, as `BanStore.load` answers them. */
export const byId = (a: Ban, b: Ban): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** One add or remove as a store's log keeps it: the version it made, what, and which ban. */
export interface BanLogEntry {
  version: number;
  op: 'add' | 'remove';
  id: string;
}

/**
 * Whether a log whose oldest entry is `oldest` (null: empty) and a store at `current`
 * can tell what changed after `since`: every change after it must still be logged.
 */
export function logCovers(oldest: number | null, current: number, since: number): boolean {
  if (!Number.isSafeInteger(since) || since > current) return false;
  if (since === current) return true;
  return oldest !== null && since >= oldest - 1;
}

/**
 * The ids that `entries` (in version order) leave added and removed: only each id's last
 * change counts, so an id added then lifted is only removed, and one lifted then added
 * again only added.
 */
export function foldLog(entries: Iterable<Pick<BanLogEntry, 'op' | 'id'>>): { added: string[]; removed: string[] } {
  const last = new Map<string, BanLogEntry['op']>();
  for (const { op, id } of entries) {
    last.delete(id);
    last.set(id, op);
  }
  const added: string[] = [];
  const removed: string[] = [];
  for (const [id, op] of last) (op === 'add' ? added : removed).push(id);
  return { added, removed };
}
