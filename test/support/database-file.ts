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

/** The tables of a database written before the store kept counts (schema 0, user_version 0). */
export const SCHEMA_0 = `
CREATE TABLE messages (
  room TEXT NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (room, ms, seq)
) WITHOUT ROWID;
CREATE TABLE rooms (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE probe (one INTEGER PRIMARY KEY CHECK (one = 1));
`;
