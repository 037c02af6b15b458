import type { Ban } from '../protocol';
import type { BanStore } from './ban-store';
import { StoreUnavailableError } from './message-store';
import { byId, expired } from './ban-records';

/**
 * Bans kept in this process only (DATA_DIR=:memory:): gone at a restart, and not shared
 * between workers, each of which then has its own.
 */
export class MemoryBanStore implements BanStore {
  private readonly bans = new Map<string, Ban>();
  private changes = 0;
  private closed = false;

  async add(ban: Ban): Promise<void> {
    this.usable();
    // A copy: what the caller changes afterwards is not what is kept, as with a file.
    this.bans.set(ban.id, { ...ban });
    this.changes += 1;
  }

  async remove(id: string): Promise<Ban | null> {
    this.usable();
    const ban = this.bans.get(id);
    if (ban === undefined) return null;
    this.bans.delete(id);
    this.changes += 1;
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
    return this.changes;
  }

  close(): void {
    this.closed = true;
  }

  private usable(): void {
    if (this.closed) throw new StoreUnavailableError('closed');
  }
}
