import type { Logger } from 'pino';
import type { Config } from '../config';
import { MemoryStore } from './memory-store';
import { MessageIdGenerator } from './message-id';
import type { MessageStore } from './message-store';
import { SqliteStore } from './sqlite-store';

/** Which ids this process hands out: every `stride`-th sequence number from `offset` (WORKERS > 1). */
export interface IdSlot {
  offset: number;
  stride: number;
}

/**
 * The store of a node without Redis: SQLite under DATA_DIR, or memory only when
 * DATA_DIR is `:memory:`. Workers of WORKERS > 1 share one database file (SQLite's
 * locks take turns between them) and take disjoint ids. Throws DataDirError when
 * DATA_DIR cannot be used.
 */
export function openLocalStore(config: Config, logger: Logger, slot: IdSlot = { offset: 0, stride: 1 }): MessageStore {
  const events = config.webhookUrl !== null;
  if (config.dataDir === null) {
    const ids = new MessageIdGenerator(Date.now, slot.offset, slot.stride);
    return new MemoryStore({ keep: config.historyKeep, maxBytes: config.historyBytes, ids, events });
  }
  return new SqliteStore({
    dir: config.dataDir,
    keep: config.historyKeep,
    maxRooms: config.maxStoredRooms,
    maxBytes: config.maxStoredBytes,
    logger,
    idOffset: slot.offset,
    idStride: slot.stride,
    // Each worker counts its own connections (a worker that died and started again lets its old ones go).
    events: events ? { node: slot.stride > 1 ? `worker-${slot.offset}` : 'local' } : undefined,
  });
}
