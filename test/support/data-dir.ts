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
  // Retried: a SQLite store's checkpoint thread still opening the database as the store
  // closes adds its -wal and -shm files a moment later (a close waits for it, up to 2 s).
  onCleanup('files', () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));
  return dir;
}
