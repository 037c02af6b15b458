/**
 * The store's write-ahead log is checkpointed by a thread of its own (Checkpointer):
 * commits never wait for a checkpoint, and the log still starts over, so it stays small
 * on disk however fast messages come.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatMessage } from '../server/protocol';
import { DATABASE_FILE, SqliteStore } from '../server/store/sqlite-store';
import { createLogger } from '../server/support/logger';
import { onCleanup } from './support/cleanup';
import { freshDataDir } from './support/data-dir';
import { readDatabase } from './support/database-file';

/** Appends `count` messages over 100 rooms, each once the one before is stored (a commit each), as fast as the store takes them. */
async function appendMany(store: SqliteStore, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await new Promise<ChatMessage | null>((resolve, reject) => {
      store.append(`room-${i % 100}`, 'writer', `message ${i} ${'x'.repeat(64)}`, (error, message) => (error === null ? resolve(message) : reject(error)));
    });
  }
}

describe('SQLite checkpoints', () => {
  it('keeps the write-ahead log small while messages keep coming, and loses none', async () => {
    const dir = freshDataDir();
    const store = new SqliteStore({ dir, keep: 10_000, logger: createLogger('silent') });
    onCleanup('servers', () => store.close());
    const log = join(dir, `${DATABASE_FILE}-wal`);

    // Each commit adds about three pages (12 KiB) to the log: 6000 would be 70 MiB if it
    // never started over. It starts over every CHECKPOINT_EVERY commits or so (about 4 MiB),
    // later when the thread gets no core for a moment while commits run flat out: on a busy
    // CI machine the log once reached 17 MiB. Half of 70 MiB still tells the two apart.
    let largest = 0;
    for (let round = 0; round < 6; round += 1) {
      await appendMany(store, 1000);
      largest = Math.max(largest, statSync(log).size);
    }
    expect(largest).toBeLessThan(35 * 1024 * 1024);

    store.close();
    const stored = readDatabase(dir, (db) => db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number });
    expect(stored.n).toBe(6000);
  });
});
