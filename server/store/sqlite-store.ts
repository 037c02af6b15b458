/**
 * The embedded default: every room's messages in one SQLite file under DATA_DIR, through
 * better-sqlite3 (synchronous, so reads answer in the same turn and no promise is made
 * per message).
 *
 * Durability: WAL mode with `synchronous=NORMAL`. A commit is in the operating system's
 * hands when it returns, so it survives `kill -9` of this process (it is not fsynced: a
 * power cut may lose the last commits). Every message appended during one turn of the
 * event loop goes into one transaction, committed at the end of the turn (atTurnEnd,
 * before the broadcast flushes it leads to); only then are the senders told and the
 * messages broadcast.
 */
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import { accessSync, constants, mkdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ChatMessage } from '../protocol';
import { jsonBytes } from '../support/json-bytes';
import { atTurnEnd } from '../support/turn-end';
import { idParts, MessageIdGenerator } from './message-id';
import {
  StoreUnavailableError,
  type AppendCallback,
  type MessageStore,
  type ReadQuery,
  type RoomQuery,
  type StoredPage,
  type StoredRoom,
} from './message-store';

export const DATABASE_FILE = 'chat.sqlite';

/** A room's surplus over HISTORY_KEEP is deleted once this many new messages came in (one index walk per batch of them). */
const TRIM_EVERY = 256;
/** How often a failed store tries to open its file again, and a working one checks that its file is still there. */
const CHECK_INTERVAL_MS = 500;
/** Another process (a worker of WORKERS > 1) holding the write lock: wait this long before failing. */
const BUSY_TIMEOUT_MS = 5_000;

/** DATA_DIR cannot be used at start: the message names the path and the reason. */
export class DataDirError extends Error {
  constructor(dir: string, reason: string) {
    super(`DATA_DIR ${JSON.stringify(dir)} cannot be used: ${reason}`);
    this.name = 'DataDirError';
  }
}

export interface SqliteStoreOptions {
  /** DATA_DIR as configured (relative to the working directory). */
  dir: string;
  /** HISTORY_KEEP: messages kept per room. */
  keep: number;
  logger: Logger;
  /** Worker `offset` of `stride` (WORKERS > 1 sharing one file): ids stay unique. */
  idOffset?: number;
  idStride?: number;
  now?: () => number;
}

interface Row {
  ms: number;
  seq: number;
  name: string;
  text: string;
  at: number;
}

interface Pending {
  room: string;
  ms: number;
  seq: number;
  message: ChatMessage;
  done: AppendCallback;
}

/** The prepared statements of one open database. */
interface Connection {
  db: Db;
  /** The file's identity when opened: a removed or replaced file is noticed before writing to it. */
  file: Stats;
  /**
   * The identity of its write-ahead log and shared-memory index (`-wal`, `-shm`) when
   * opened: they belong to that file, and must not be applied to another one put in its place.
   */
  companions: (Stats | null)[];
  insert: Statement<[string, number, number, string, string, number]>;
  addRoom: Statement<[string]>;
  trim: Statement<[string, string, number]>;
  newest: Statement<[string, number], Row>;
  after: Statement<[string, number, number, number, number], Row>;
  exists: Statement<[string, number, number], { one: number }>;
  newerThan: Statement<[string, number, number, number], { count: number }>;
  rooms: Statement<[string, number], { name: string; lastAt: number | null }>;
  commitBatch: (batch: readonly Pending[]) => void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  room TEXT NOT NULL,
  ms   INTEGER NOT NULL,
  seq  INTEGER NOT NULL,
  name TEXT NOT NULL,
  text TEXT NOT NULL,
  at   INTEGER NOT NULL,
  PRIMARY KEY (room, ms, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rooms (
  name TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS probe (
  one INTEGER PRIMARY KEY CHECK (one = 1)
);
`;

/** The files SQLite keeps next to a database in WAL mode. */
const COMPANIONS = ['-wal', '-shm'] as const;

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

const sameFile = (a: Stats | null, b: Stats | null) => a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;

const idOf = (row: { ms: number; seq: number }) => `${row.ms}-${row.seq}`;
const messageOf = (row: Row): ChatMessage => ({ id: idOf(row), text: row.text, name: row.name, at: row.at });

/**
 * Up to `limit` messages from `rows`, read one at a time and no further than the first
 * that would pass `maxBytes` as JSON (at least one is taken), and whether any was left.
 */
function takePage(rows: IterableIterator<Row>, limit: number, maxBytes: number): { messages: ChatMessage[]; more: boolean } {
  const messages: ChatMessage[] = [];
  let bytes = 0;
  // Leaving the loop early ends the statement (better-sqlite3 resets it).
  for (const row of rows) {
    const message = messageOf(row);
    if (maxBytes !== Number.POSITIVE_INFINITY) bytes += jsonBytes(message);
    if (messages.length === limit || (messages.length > 0 && bytes > maxBytes)) return { messages, more: true };
    messages.push(message);
  }
  return { messages, more: false };
}

/** What went wrong, in words an operator can act on. */
function reasonOf(err: unknown): string {
  const error = err as { code?: string; message?: string };
  const code = error.code ?? '';
  if (code === 'SQLITE_FULL' || /ENOSPC|disk is full/i.test(error.message ?? '')) return 'disk full';
  if (code.startsWith('SQLITE_READONLY') || /EROFS|readonly|read-only/i.test(error.message ?? '')) return 'read-only';
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return `corrupt database (${error.message ?? code})`;
  // "disk I/O error" alone does not say which: SQLite's extended code does (SQLITE_IOERR_WRITE...).
  if (code.startsWith('SQLITE_IOERR')) return `${error.message ?? 'disk I/O error'} (${code})`;
  return error.message ?? String(err);
}

/**
 * Why the database under `dir` could not be opened. SQLite says only "unable to open
 * database file" (SQLITE_CANTOPEN) when the directory is read-only or not writable (it
 * cannot create the file, its -wal or its -shm); the directory itself tells which.
 */
function openFailureOf(dir: string, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  if (code.startsWith('SQLITE_CANTOPEN')) {
    try {
      accessSync(dir, constants.W_OK);
    } catch (dirErr) {
      const dirCode = (dirErr as NodeJS.ErrnoException).code;
      if (dirCode === 'EROFS') return 'read-only file system';
      if (dirCode === 'EACCES' || dirCode === 'EPERM') return 'permission denied (the directory is not writable)';
      if (dirCode === 'ENOENT') return 'directory removed';
    }
  }
  return reasonOf(err);
}

export class SqliteStore implements MessageStore {
  readonly path: string;
  private connection: Connection | null;
  private readonly ids: MessageIdGenerator;
  private batch: Pending[] = [];
  private flushScheduled = false;
  private broken: string | null = null;
  /** Messages stored per room since its last trim (from this process's start: a restart trims a little late). */
  private readonly sinceTrim = new Map<string, number>();
  private readonly checker: NodeJS.Timeout;
  private readonly flushNow = () => this.flush();

  /**
   * Opens (creating it if need be) the database under `options.dir`. Throws DataDirError
   * when that cannot be done: the directory cannot be made, the file is not a database,
   * or nothing can be written there.
   */
  constructor(private readonly options: SqliteStoreOptions) {
    this.path = join(resolve(options.dir), DATABASE_FILE);
    try {
      mkdirSync(options.dir, { recursive: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EEXIST: the path is a file; ENOTDIR: one of its parents is.
      const reason = code === 'EEXIST' || code === 'ENOTDIR' ? `not a directory (${(err as Error).message})` : (err as Error).message;
      throw new DataDirError(options.dir, reason);
    }
    try {
      this.connection = this.connect();
    } catch (err) {
      throw new DataDirError(options.dir, openFailureOf(options.dir, err));
    }
    this.ids = new MessageIdGenerator(options.now ?? Date.now, options.idOffset ?? 0, options.idStride ?? 1);
    // Trimming keeps each room's newest messages, so the newest id of all is still here.
    for (const { name } of this.connection.rooms.all('', -1)) {
      const newest = this.connection.newest.get(name, 1);
      if (newest !== undefined) this.ids.continueAfter(idOf(newest));
    }
    this.checker = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.checker.unref();
  }

  append(room: string, name: string, text: string, done: AppendCallback): void {
    const { id, at, ms, seq } = this.ids.next();
    this.batch.push({ room, ms, seq, message: { id, text, name, at }, done });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      atTurnEnd(this.flushNow);
    }
  }

  recent(room: string, limit: number): ChatMessage[] {
    if (limit === 0) return [];
    return this.reading((c) => c.newest.all(room, limit).reverse().map(messageOf));
  }

  read(room: string, query: ReadQuery): StoredPage {
    const keep = this.options.keep;
    const { limit, maxBytes = Number.POSITIVE_INFINITY } = query;
    return this.reading((c) => {
      if (query.since === undefined) {
        const { messages, more } = takePage(c.newest.iterate(room, limit + 1), limit, maxBytes);
        return { messages: messages.reverse(), complete: true, more };
      }
      const [ms, seq] = idParts(query.since) ?? [0, 0];
      const { messages, more } = takePage(c.after.iterate(room, ms, ms, seq, limit + 1), limit, maxBytes);
      // Rows past HISTORY_KEEP wait for the next trim (every TRIM_EVERY messages); to a
      // reader they are gone already.
      const kept = c.exists.get(room, ms, seq) !== undefined && (c.newerThan.get(room, ms, seq, keep)?.count ?? 0) < keep;
      return { messages, complete: kept, more };
    });
  }

  rooms(query: RoomQuery): StoredRoom[] {
    return this.reading((c) =>
      c.rooms.all(query.after ?? '', query.limit).flatMap(({ name, lastAt }) => (lastAt === null ? [] : [{ name, lastMessageAt: lastAt }])),
    );
  }

  problem(): string | null {
    return this.broken;
  }

  /** Commits what is pending, then closes the file. */
  close(): void {
    clearInterval(this.checker);
    this.flush();
    this.connection?.db.close();
    this.connection = null;
  }

  private connect(): Connection {
    const db = new Database(this.path, { fileMustExist: false, timeout: BUSY_TIMEOUT_MS });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      // Proves that the file can be written now, not at the first message.
      db.prepare('INSERT OR REPLACE INTO probe (one) VALUES (1)').run();
      const statements = this.prepare(db);
      return statements;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private prepare(db: Db): Connection {
    const c: Omit<Connection, 'commitBatch'> = {
      db,
      file: statSync(this.path),
      companions: COMPANIONS.map((suffix) => statOrNull(this.path + suffix)),
      insert: db.prepare('INSERT OR IGNORE INTO messages (room, ms, seq, name, text, at) VALUES (?, ?, ?, ?, ?, ?)'),
      // A room already listed is left as it is: no page of the database changes.
      addRoom: db.prepare('INSERT OR IGNORE INTO rooms (name) VALUES (?)'),
      // Deletes what is older than the room's `keep`-th newest message.
      trim: db.prepare(
        `DELETE FROM messages WHERE room = ? AND (ms, seq) < (
           SELECT ms, seq FROM messages WHERE room = ? ORDER BY ms DESC, seq DESC LIMIT 1 OFFSET ?)`,
      ),
      newest: db.prepare('SELECT ms, seq, name, text, at FROM messages WHERE room = ? ORDER BY ms DESC, seq DESC LIMIT ?'),
      after: db.prepare(
        'SELECT ms, seq, name, text, at FROM messages WHERE room = ? AND ms >= ? AND (ms, seq) > (?, ?) ORDER BY ms, seq LIMIT ?',
      ),
      exists: db.prepare('SELECT 1 AS one FROM messages WHERE room = ? AND ms = ? AND seq = ?'),
      // Bounded by LIMIT: counts up to HISTORY_KEEP rows at most.
      newerThan: db.prepare(
        'SELECT count(*) AS count FROM (SELECT 1 FROM messages WHERE room = ? AND (ms, seq) > (?, ?) LIMIT ?)',
      ),
      // Each room's newest message through the primary key: one index seek per room.
      rooms: db.prepare(
        `SELECT name, (SELECT at FROM messages WHERE room = rooms.name ORDER BY ms DESC, seq DESC LIMIT 1) AS lastAt
         FROM rooms WHERE name > ? ORDER BY name LIMIT ?`,
      ),
    };
    // Only the messages' own pages (and a new room's name) change in a commit: every page
    // written costs the commit a write to the log.
    const commitBatch = db.transaction((batch: readonly Pending[]) => {
      let room: string | null = null;
      for (const p of batch) {
        c.insert.run(p.room, p.ms, p.seq, p.message.name, p.message.text, p.message.at);
        if (p.room === room) continue;
        room = p.room;
        c.addRoom.run(room);
      }
      for (const p of batch) {
        const count = (this.sinceTrim.get(p.room) ?? 0) + 1;
        if (count < TRIM_EVERY) {
          this.sinceTrim.set(p.room, count);
          continue;
        }
        c.trim.run(p.room, p.room, this.options.keep - 1);
        this.sinceTrim.set(p.room, 0);
      }
    });
    return { ...c, commitBatch };
  }

  /** The check phase after a turn: one transaction for the turn's messages, then every sender hears. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const failure = this.write(batch);
    for (const pending of batch) {
      // Each sender hears, whatever another's callback does: a room waits for its answer.
      try {
        if (failure === null) pending.done(null, pending.message);
        else pending.done(failure, null);
      } catch (err) {
        this.options.logger.error({ err, room: pending.room }, 'a stored message could not be published');
      }
    }
  }

  private write(batch: readonly Pending[]): StoreUnavailableError | null {
    if (this.broken !== null || this.connection === null) return new StoreUnavailableError(this.broken ?? 'closed');
    // A file removed or replaced under us would take the commit and lose it with the file.
    const moved = this.fileMoved(this.connection);
    if (moved !== null) return this.fail(moved);
    try {
      this.connection.commitBatch(batch);
      return null;
    } catch (err) {
      return this.fail(reasonOf(err));
    }
  }

  private fail(reason: string): StoreUnavailableError {
    if (this.broken === null) this.options.logger.error({ path: this.path, reason }, 'message store unavailable; refusing messages');
    this.broken = reason;
    return new StoreUnavailableError(reason);
  }

  private fileMoved(connection: Connection): string | null {
    const now = statOrNull(this.path);
    if (now === null) return 'database file removed';
    return sameFile(now, connection.file) ? null : 'database file replaced';
  }

  /**
   * Twice a second: a working store checks that its file is still the one it opened (so
   * /readyz tells even when nobody writes); a failed one opens its file again (the
   * directory must exist: a volume that is not mounted must not get a new database
   * written under its mount point) and takes messages again once it can write there.
   *
   * Until then the old connection stays open for reading: a full or read-only disk (or a
   * DATA_DIR removed with the file still open) can still serve the history it holds, to a
   * newcomer or a client resuming with ?since=. It is replaced only by a connection that
   * can write, except when another file now lies at its path (see dropMoved).
   */
  private check(): void {
    if (this.broken === null) {
      const moved = this.connection === null ? null : this.fileMoved(this.connection);
      if (moved !== null) this.fail(moved);
      return;
    }
    this.options.logger.debug({ path: this.path, reason: this.broken }, 'message store retrying');
    try {
      statSync(this.options.dir);
    } catch {
      return;
    }
    if (this.connection !== null && this.fileMoved(this.connection) !== null) this.dropMoved(this.connection);
    let fresh: Connection;
    try {
      fresh = this.connect();
    } catch (err) {
      const reason = openFailureOf(this.options.dir, err);
      if (reason !== this.broken) this.options.logger.warn({ path: this.path, reason, was: this.broken }, 'message store still unavailable');
      this.broken = reason;
      return;
    }
    try {
      this.connection?.db.close();
    } catch {
      // Closing a database whose file is gone or broken may fail; it is dropped either way.
    }
    this.connection = fresh;
    // A new file may hold older ids than the generator's; the generator only goes up.
    this.options.logger.warn({ path: this.path, was: this.broken }, 'message store available again');
    this.broken = null;
  }

  /**
   * The file under the open connection was removed or replaced. SQLite will not write to
   * a moved file (SQLITE_READONLY_DBMOVED), so closing does not checkpoint: the old file's
   * `-wal` (its last commits) and `-shm` stay at the path, and the next connection would
   * replay that log onto whatever file is there now, making it a copy of pages of the old
   * one, or corrupt. They are removed, but only if they are still the very files this
   * connection opened (a backup restored with its own -wal is left alone).
   */
  private dropMoved(connection: Connection): void {
    try {
      connection.db.close();
    } catch {
      // Closing a database whose file is gone may fail; it is dropped either way.
    }
    this.connection = null;
    const removed: string[] = [];
    COMPANIONS.forEach((suffix, i) => {
      const path = this.path + suffix;
      if (!sameFile(statOrNull(path), connection.companions[i] ?? null)) return;
      try {
        unlinkSync(path);
        removed.push(path);
      } catch {
        // Gone already (another worker of the same DATA_DIR removed it).
      }
    });
    this.options.logger.warn({ path: this.path, removed }, 'closed a removed or replaced database file; removed what it left beside it');
  }

  private reading<T>(read: (connection: Connection) => T): T {
    if (this.connection === null) throw new StoreUnavailableError(this.broken ?? 'closed');
    try {
      return read(this.connection);
    } catch (err) {
      throw new StoreUnavailableError(reasonOf(err));
    }
  }
}
