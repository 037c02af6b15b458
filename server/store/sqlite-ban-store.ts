/**
 * Bans in a SQLite file of their own under DATA_DIR, `moderation.sqlite`, apart from the
 * messages: a ban is rare and small, the messages' file is busy and bounded, and each
 * can be backed up or reset alone. Workers of WORKERS > 1 share the file; a counter row
 * and a log of the latest changes, written in the transaction of each add and remove,
 * are the version every one of them watches and what changed since theirs.
 *
 * Durability as the message store's: WAL, `synchronous=NORMAL` (a commit survives the
 * process's death, not a power cut). Each call checks that the file is still the one it
 * opened; a removed or replaced file is closed and the file now at the path opened (a
 * fresh one if none), or the call fails with StoreUnavailableError while it cannot be.
 */
import type { Database as Db, Statement } from 'better-sqlite3';
import { statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Ban } from '../protocol';
import { decodeBan, encodeBan, expired, foldLog, logCovers, type BanLogEntry } from './ban-records';
import { BAN_LOG_SIZE, type BanChanges, type BanStore } from './ban-store';
import { StoreUnavailableError } from './message-store';
import { dropMovedFile, identityOf, openWalFile, sameFile, statOrNull } from './sqlite/database';
import { DataDirError, makeDataDir, openFailureOf, reasonOf } from './sqlite/faults';

export const BAN_DATABASE_FILE = 'moderation.sqlite';

/** The schema's version (`PRAGMA user_version`). */
export const BAN_SCHEMA_VERSION = 2;

/**
 * `ban_log`: the latest BAN_LOG_SIZE adds and removes, each under the version it made.
 * Schema 1 is schema 2 without it.
 */
const CREATE_LOG = `
CREATE TABLE ban_log (
  version INTEGER PRIMARY KEY,
  id      TEXT NOT NULL,
  op      TEXT NOT NULL
);
`;

/**
 * `bans`: each ban as JSON, by id (so that a load reads them in id order), with its end
 * beside it so that the expired ones are found without reading the JSON. `version`: one
 * row, the count of every add and remove ever made in this file.
 */
const CREATE_SCHEMA = `
CREATE TABLE bans (
  id    TEXT PRIMARY KEY,
  json  TEXT NOT NULL,
  until INTEGER
) WITHOUT ROWID;
CREATE TABLE version (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  n   INTEGER NOT NULL
);
INSERT INTO version (one, n) VALUES (1, 0);
${CREATE_LOG}`;

/**
 * What `version` answers: the file's counter, plus this many for each file opened after
 * the first, so that a file put in place of another (a backup restored) never answers
 * the count the old one had and the node loads its bans.
 */
const FILE_SPAN = 2 ** 32;

export interface SqliteBanStoreOptions {
  /** DATA_DIR as configured (relative to the working directory). */
  dir: string;
  logger: Logger;
}

interface Row {
  id: string;
  json: string;
  until: number | null;
}

/** What the log tells in one read: the count then, and the bans added and ids removed since. */
interface LoggedChanges {
  count: number;
  rows: Row[];
  removed: string[];
}

/** One open file and its statements. */
interface Connection {
  db: Db;
  /** The file's identity when opened, and its `-wal` and `-shm`'s (see SqliteBanStore.drop). */
  file: Stats;
  companions: (Stats | null)[];
  all: Statement<[], Row>;
  count: Statement<[], number>;
  add: (ban: Ban) => void;
  remove: (id: string) => Row | undefined;
  dropExpired: (now: number) => void;
  /** Null when the log no longer holds every change after `since` (a count in this file). */
  changes: (since: number) => LoggedChanges | null;
}

export class SqliteBanStore implements BanStore {
  readonly path: string;
  private connection: Connection | null;
  /** Files opened after the first (see FILE_SPAN). */
  private reopened = 0;
  private broken: string | null = null;
  private closed = false;

  /**
   * Opens (creating it if need be) the file under `options.dir`. Throws DataDirError when
   * that cannot be done: the directory cannot be made, the file is not such a database,
   * or nothing can be written there.
   */
  constructor(private readonly options: SqliteBanStoreOptions) {
    this.path = join(resolve(options.dir), BAN_DATABASE_FILE);
    makeDataDir(options.dir);
    try {
      this.connection = openBanDatabase(this.path);
    } catch (err) {
      throw new DataDirError(options.dir, `${BAN_DATABASE_FILE}: ${openFailureOf(options.dir, err)}`);
    }
  }

  async add(ban: Ban): Promise<void> {
    this.run((c) => c.add(ban));
  }

  async remove(id: string): Promise<Ban | null> {
    const row = this.run((c) => c.remove(id));
    if (row === undefined || expired(row, Date.now())) return null;
    return decodeBan(row.json);
  }

  async load(now: number): Promise<Ban[]> {
    // One read of every row, in id order; a write only when some have expired.
    const rows = this.run((c) => c.all.all());
    const bans: Ban[] = [];
    let stale = false;
    for (const row of rows) {
      if (expired(row, now)) {
        stale = true;
        continue;
      }
      const ban = decodeBan(row.json);
      if (ban === null) this.options.logger.warn({ path: this.path, id: row.id }, 'a stored ban is not readable; skipped');
      else bans.push(ban);
    }
    if (stale) this.run((c) => c.dropExpired(now));
    return bans;
  }

  async version(): Promise<number> {
    const count = this.run((c) => c.count.get() as number);
    return this.reopened * FILE_SPAN + count;
  }

  async changes(since: number): Promise<BanChanges | null> {
    const logged = this.run((c) => {
      // Read once the file now at the path is open: a `since` of another file's span is unknown here.
      const span = this.reopened * FILE_SPAN;
      if (!(since >= span && since < span + FILE_SPAN)) return null;
      const found = c.changes(since - span);
      return found === null ? null : { ...found, count: span + found.count };
    });
    if (logged === null) return null;
    const added: Ban[] = [];
    for (const row of logged.rows) {
      const ban = decodeBan(row.json);
      if (ban !== null) {
        added.push(ban);
        continue;
      }
      this.options.logger.warn({ path: this.path, id: row.id }, 'a stored ban is not readable; skipped');
      logged.removed.push(row.id);
    }
    return { version: logged.count, added, removed: logged.removed };
  }

  /** Closes the file, its log checkpointed into it and emptied first. */
  close(): void {
    this.closed = true;
    const connection = this.connection;
    this.connection = null;
    if (connection === null) return;
    try {
      if (this.broken === null) connection.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      this.options.logger.warn({ path: this.path, reason: reasonOf(err) }, 'ban store log not checkpointed at close');
    }
    connection.db.close();
  }

  /** Runs `work` on the file now at the path; rejects the call with StoreUnavailableError when it cannot. */
  private run<T>(work: (connection: Connection) => T): T {
    const connection = this.current();
    try {
      const result = work(connection);
      this.recovered();
      return result;
    } catch (err) {
      throw this.fail(reasonOf(err));
    }
  }

  /**
   * The open file, if it is still the one at the path; else the file there now, opened.
   * The directory must exist: a volume that is not mounted must not get a new file
   * written under its mount point.
   */
  private current(): Connection {
    if (this.closed) throw new StoreUnavailableError('closed');
    const open = this.connection;
    if (open !== null) {
      if (sameFile(statOrNull(this.path), open.file)) return open;
      this.drop(open);
    }
    try {
      statSync(this.options.dir);
    } catch {
      throw this.fail('directory removed');
    }
    try {
      this.connection = openBanDatabase(this.path);
    } catch (err) {
      throw this.fail(openFailureOf(this.options.dir, err));
    }
    this.reopened += 1;
    this.options.logger.warn({ path: this.path }, 'ban store opened its file again');
    return this.connection;
  }

  private fail(reason: string): StoreUnavailableError {
    if (this.broken !== reason) this.options.logger.error({ path: this.path, reason }, 'ban store unavailable');
    this.broken = reason;
    return new StoreUnavailableError(reason);
  }

  private recovered(): void {
    if (this.broken === null) return;
    this.options.logger.warn({ path: this.path, was: this.broken }, 'ban store available again');
    this.broken = null;
  }

  /**
   * The file under the open connection was removed or replaced. Its `-wal` and `-shm`
   * hold the old file's last commits and must not be replayed onto the file now there:
   * they are removed, but only if they are still the very files this connection opened.
   */
  private drop(connection: Connection): void {
    this.connection = null;
    dropMovedFile(connection.db, this.path, connection.companions);
    this.options.logger.warn({ path: this.path }, 'ban store file removed or replaced; closed it');
  }
}

/** Opens the file at `path` (creating it if need be), makes its schema, proves it can be written. Throws what SQLite throws. */
function openBanDatabase(path: string): Connection {
  // With secure_delete (openWalFile): a lifted ban names a user or an address.
  return openWalFile(path, (db) => {
    ensureBanSchema(db);
    // Proves that the file can be written now, not at the first ban.
    db.prepare('UPDATE version SET n = n').run();
    return prepare(db, path);
  });
}

/** Creates the schema in a new file; one worker does it, the others find it done. */
function ensureBanSchema(db: Db): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const found = version();
  if (found === BAN_SCHEMA_VERSION) return;
  if (found > BAN_SCHEMA_VERSION) throw new Error(`written by a newer version of this server (schema ${found}; this one knows ${BAN_SCHEMA_VERSION})`);
  db.transaction(() => {
    const now = version();
    if (now === BAN_SCHEMA_VERSION) return;
    // A file of schema 1 gets an empty log: what changed before it is unknown, so
    // `changes` since a version before it answers null.
    db.exec(now === 0 ? CREATE_SCHEMA : CREATE_LOG);
    db.pragma(`user_version = ${BAN_SCHEMA_VERSION}`);
  }).immediate();
}

function prepare(db: Db, path: string): Connection {
  const insert = db.prepare<[string, string, number | null]>('INSERT OR REPLACE INTO bans (id, json, until) VALUES (?, ?, ?)');
  const remove = db.prepare<[string], Row>('DELETE FROM bans WHERE id = ? RETURNING id, json, until');
  const count = db.prepare<[], number>('SELECT n FROM version').pluck();
  const bump = db.prepare<[], number>('UPDATE version SET n = n + 1 RETURNING n').pluck();
  const log = db.prepare<[number, string, string]>('INSERT INTO ban_log (version, id, op) VALUES (?, ?, ?)');
  const trim = db.prepare<[number]>('DELETE FROM ban_log WHERE version <= ?');
  const oldest = db.prepare<[], number | null>('SELECT MIN(version) FROM ban_log').pluck();
  const logAfter = db.prepare<[number], Pick<BanLogEntry, 'op' | 'id'>>('SELECT op, id FROM ban_log WHERE version > ? ORDER BY version');
  const one = db.prepare<[string], Row>('SELECT id, json, until FROM bans WHERE id = ?');
  const dropExpired = db.prepare<[number]>('DELETE FROM bans WHERE until <= ?');
  /** Counts a change and logs it, in the caller's transaction; the log keeps the latest BAN_LOG_SIZE. */
  const logged = (op: BanLogEntry['op'], id: string) => {
    const version = bump.get() as number;
    log.run(version, id, op);
    trim.run(version - BAN_LOG_SIZE);
  };
  return {
    db,
    ...identityOf(path),
    all: db.prepare<[], Row>('SELECT id, json, until FROM bans ORDER BY id'),
    count,
    add: db.transaction((ban: Ban) => {
      insert.run(ban.id, encodeBan(ban), ban.until);
      logged('add', ban.id);
    }),
    remove: db.transaction((id: string) => {
      const row = remove.get(id);
      if (row !== undefined) logged('remove', id);
      return row;
    }),
    // Expired bans are no change: every node skips them already.
    dropExpired: (now: number) => {
      dropExpired.run(now);
    },
    // One read transaction: the count, the log and the bans as one commit left them.
    changes: db.transaction((since: number): LoggedChanges | null => {
      const now = count.get() as number;
      if (!logCovers(oldest.get() ?? null, now, since)) return null;
      const { added, removed } = foldLog(logAfter.all(since));
      const rows: Row[] = [];
      for (const id of added) {
        const row = one.get(id);
        // Dropped by a load since, expired: gone as a lifted one is.
        if (row === undefined) removed.push(id);
        else rows.push(row);
      }
      return { count: now, rows, removed };
    }),
  };
}
