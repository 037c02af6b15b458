import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup';

/**
 * A new, empty DATA_DIR of this test's own, removed after it (or after the file, from a
 * beforeAll). Servers started by the test helpers get one unless the test names a
 * DATA_DIR: every test then runs on the default store (SQLite) and none sees another's
 * history.
 */
export function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-data-'));
  // Retried: the SQLite store's checkpoint thread ends after the store closes, and one that
  // was still opening the database then adds its -wal and -shm files while rm runs.
  onCleanup('files', () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));
  return dir;
}
