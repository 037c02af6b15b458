import type { Ban } from '../protocol';

/**
 * What changed in a ban store after a version, up to `version` (the store's then): an
 * index of the bans as they were at that version, with `removed` taken out and then
 * `added` put in (each replacing any ban of its id), holds the bans as they are at
 * `version`. An id added and lifted since is only in `removed`.
 */
export interface BanChanges {
  version: number;
  added: Ban[];
  removed: string[];
}

/** How many of the latest adds and removes a store remembers for `changes`. */
export const BAN_LOG_SIZE = 1_000;

/**
 * Where bans and mutes are kept, durably: a file of its own under DATA_DIR with SQLite
 * (so that a node restarts with them), a hash in Redis shared by every node, or memory
 * with DATA_DIR=:memory:. Every node keeps an index of them in memory (BanList) and asks
 * `version` twice a second: when it changed, another node (or worker) added or lifted
 * one, and the node asks `changes` for what, loading them all only when the store no
 * longer knows. So a ban holds on every node within a second, and one more ban costs a
 * node one ban's work however many there are.
 */
export interface BanStore {
  /** Keeps a new ban. Rejects with StoreUnavailableError when it cannot. */
  add(ban: Ban): Promise<void>;
  /** Lifts a ban: resolves with it, or null when no ban has this id (or it expired). */
  remove(id: string): Promise<Ban | null>;
  /** Every ban still in force at `now`, in id order; expired ones are dropped from the store as it goes. */
  load(now: number): Promise<Ban[]>;
  /** A number that changes with every add and remove, made by any node or worker. */
  version(): Promise<number>;
  /**
   * What was added and removed after version `since` (one `version` answered), or null
   * when the store cannot tell: more than BAN_LOG_SIZE changes since, or `since` is from
   * before the store opened another file or reconnected to a Redis (whose count may have
   * started over). On null the caller loads them all. Added bans that have expired may
   * be in `added` (an index skips them).
   */
  changes(since: number): Promise<BanChanges | null>;
  close(): void | Promise<void>;
}
