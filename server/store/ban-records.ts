/** What the ban stores share: a ban as they keep it (JSON), and when it has expired. */
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
