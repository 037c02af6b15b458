import type { Ban } from '../protocol';

/**
 * Where bans and mutes are kept, durably: a file of its own under DATA_DIR with SQLite
 * (so that a node restarts with them), a hash in Redis shared by every node, or memory
 * with DATA_DIR=:memory:. Every node keeps an index of them in memory (BanList) and asks
 * `version` twice a second: when it changed, another node (or worker) added or lifted
 * one, and the node loads them again. So a ban holds on every node within a second.
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
  close(): void | Promise<void>;
}
