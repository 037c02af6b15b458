import Database from 'better-sqlite3';
import { join } from 'node:path';
import { DATABASE_FILE } from '../../server/store/sqlite-store';

/**
 * Opens the SQLite store's file under `dataDir` read-only, through a connection of its own
 * (what is committed, as another process would see it), runs `read` and closes it.
 */
export function readDatabase<T>(dataDir: string, read: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}
