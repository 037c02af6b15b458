import type { Ban } from '../protocol';
import { BAN_LOG_SIZE, type BanChanges, type BanStore } from './ban-store';
import { StoreUnavailableError } from './message-store';
import { byId, expired, foldLog, logCovers, type BanLogEntry } from './ban-records';

/**
 * Bans kept in this process only (DATA_DIR=:memory:): gone at a restart, and not shared
 * between workers, each of which then has its own.
 */
export class MemoryBanStore implements BanStore {
  private readonly bans = new Map<string, Ban>();
  private changeCount = 0;
  /** The latest BAN_LOG_SIZE changes, oldest first. */
  private readonly log: BanLogEntry[] = [];
  private closed = false;

  async add(ban: Ban): Promise<void> {
    this.usable();
    // A copy: what the caller changes afterwards is not what is kept, as with a file.
    this.bans.set(ban.id, { ...ban });
    this.logged('add', ban.id);
  }

  async remove(id: string): Promise<Ban | null> {
    this.usable();
    const ban = this.bans.get(id);
    if (ban === undefined) return null;
    this.bans.delete(id);
    this.logged('remove', id);
    return expired(ban, Date.now()) ? null : { ...ban };
  }

  async load(now: number): Promise<Ban[]> {
    this.usable();
    const kept: Ban[] = [];
    for (const [id, ban] of this.bans) {
      if (expired(ban, now)) this.bans.delete(id);
      else kept.push({ ...ban });
    }
    return kept.sort(byId);
  }

  async version(): Promise<number> {
    this.usable();
    return this.changeCount;
  }

  async changes(since: number): Promise<BanChanges | null> {
    this.usable();
    const version = this.changeCount;
    if (!logCovers(this.log[0]?.version ?? null, version, since)) return null;
    // The log is in version order and without gaps: the changes after `since` are its tail.
    const { added, removed } = foldLog(this.log.slice(this.log.length - (version - since)));
    const bans: Ban[] = [];
    for (const id of added) {
      const ban = this.bans.get(id);
      // Dropped by a load since, expired: gone as a lifted one is.
      if (ban === undefined) removed.push(id);
      else bans.push({ ...ban });
    }
    return { version, added: bans, removed };
  }

  close(): void {
    this.closed = true;
  }

  private logged(op: BanLogEntry['op'], id: string): void {
    this.changeCount += 1;
    this.log.push({ version: this.changeCount, op, id });
    if (this.log.length > BAN_LOG_SIZE) this.log.shift();
  }

  private usable(): void {
    if (this.closed) throw new StoreUnavailableError('closed');
  }
}
