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
 * messages broadcast. A change to a stored message (edit, delete, reaction, read marker)
 * goes into the same transaction, in order with the messages appended before it. The
 * log is checkpointed by a thread (sqlite/checkpointer.ts), not inside a commit.
 *
 * Bounds: the same transaction keeps each room's count and bytes (table `rooms`) and the
 * store's totals and newest id (the row TOTALS of that table), so that every commit
 * leaves at most HISTORY_KEEP messages per room and at most MAX_STORED_ROOMS rooms and
 * MAX_STORED_BYTES in all, and a start reads one row instead of one per room.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ChatMessage, HistoryMessage, UserRoom } from '../protocol';
import { withDeadline } from '../support/deadline';
import { atTurnEnd } from '../support/turn-end';
import { MessageIdGenerator } from './message-id';
import {
  StoreUnavailableError,
  type AppendCallback,
  type ChangeCallback,
  type MessageChange,
  type MessageStore,
  type ReadQuery,
  type RoomQuery,
  type StoredPage,
  type StoredRoom,
} from './message-store';
import { dropMovedFile, openDatabase, sameFile, statOrNull, type OpenDatabase, type OutboxOptions, type Pending } from './sqlite/database';
import { SqliteOutbox } from './sqlite-outbox';
import { Checkpointer } from './sqlite/checkpointer';
import { DataDirError, makeDataDir, openFailureOf, reasonOf } from './sqlite/faults';
import { idOf } from './sqlite/pages';
import { BUSY_TIMEOUT_MS, messageBytes } from './sqlite/schema';

export { DataDirError } from './sqlite/faults';

export const DATABASE_FILE = 'chat.sqlite';

/** How often a failed store tries to open its file again, and a working one checks that its file is still there. */
const CHECK_INTERVAL_MS = 500;

/** How long a close waits at most for the checkpoint thread to end (one checkpoint under way). */
const THREAD_END_MS = 2_000;

export interface SqliteStoreOptions {
  /** DATA_DIR as configured (relative to the working directory). */
  dir: string;
  /** HISTORY_KEEP: messages kept per room. */
  keep: number;
  /** MAX_STORED_ROOMS: rooms kept; 0 for no bound. */
  maxRooms?: number;
  /** MAX_STORED_BYTES: what all messages may count together (messageBytes); 0 for no bound. */
  maxBytes?: number;
  logger: Logger;
  /** Worker `offset` of `stride` (WORKERS > 1 sharing one file): ids stay unique. */
  idOffset?: number;
  idStride?: number;
  /** WEBHOOK_URL is set: keep the webhook outbox, as this node (a worker's own name). */
  events?: OutboxOptions | undefined;
  now?: () => number;
}

export class SqliteStore implements MessageStore {
  readonly path: string;
  private connection: OpenDatabase | null;
  /** Checkpoints the open connection's log (see Checkpointer); null while none is open. */
  private checkpointer: Checkpointer | null = null;
  private readonly ids: MessageIdGenerator;
  private batch: Pending[] = [];
  private flushScheduled = false;
  private broken: string | null = null;
  private readonly checker: NodeJS.Timeout;
  private readonly flushNow = () => this.flush();
  readonly events: SqliteOutbox | undefined;

  /**
   * Opens (creating it if need be) the database under `options.dir`. Throws DataDirError
   * when that cannot be done: the directory cannot be made, the file is not a database,
   * or nothing can be written there.
   */
  constructor(private readonly options: SqliteStoreOptions) {
    this.path = join(resolve(options.dir), DATABASE_FILE);
    makeDataDir(options.dir);
    try {
      this.connection = this.connect();
    } catch (err) {
      throw new DataDirError(options.dir, openFailureOf(options.dir, err));
    }
    this.checkpointer = this.checkpointerFor(this.connection);
    this.ids = new MessageIdGenerator(options.now ?? Date.now, options.idOffset ?? 0, options.idStride ?? 1);
    this.continueIds(this.connection);
    this.checker = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.checker.unref();
    const events = options.events;
    if (events !== undefined) {
      this.events = new SqliteOutbox(
        {
          enqueue: (pending) => {
            this.batch.push(pending);
            this.scheduleFlush();
          },
          reading: (read) => this.reading((c) => read(c.outbox as NonNullable<typeof c.outbox>)),
        },
        options.now,
      );
      // The members this node counted before it last stopped (it may have been killed) are gone.
      this.reading((c) => c.outbox?.releaseNode(events.node, (options.now ?? Date.now)()));
    }
  }

  append(room: string, name: string, text: string, done: AppendCallback, user?: string): void {
    const { id, at, ms, seq } = this.ids.next();
    const message: ChatMessage = user === undefined ? { id, text, name, at } : { id, text, name, at, user };
    this.batch.push({ room, ms, seq, bytes: messageBytes(room, name, text), message, done });
    this.scheduleFlush();
  }

  change(room: string, change: MessageChange, done: ChangeCallback): void {
    this.batch.push({ room, change, done, outcome: null });
    this.scheduleFlush();
  }

  recent(room: string, limit: number): HistoryMessage[] {
    return this.reading((c) => c.reads.recent(room, limit));
  }

  read(room: string, query: ReadQuery): StoredPage {
    return this.reading((c) => c.reads.page(room, query, this.options.keep));
  }

  rooms(query: RoomQuery): StoredRoom[] {
    return this.reading((c) => c.reads.rooms(query.after, query.limit));
  }

  userRooms(user: string, limit: number): UserRoom[] {
    return this.reading((c) => c.reads.userRooms(user, limit, this.options.keep));
  }

  problem(): string | null {
    return this.broken;
  }

  /**
   * Commits what is pending, then closes the file: its log checkpointed into it and
   * emptied first, so that what was deleted is gone from both (secure_delete zeroed it
   * in the pages; older copies of those pages stay in the log until then).
   */
  close(): Promise<void> {
    clearInterval(this.checker);
    this.flush();
    const connection = this.connection;
    this.connection = null;
    // Closed now all the same; the promise is for whoever waits until nothing writes beside the file.
    const threadEnded = withDeadline(this.stopCheckpointer(), THREAD_END_MS).then(() => undefined);
    if (connection === null) return threadEnded;
    if (this.broken === null) {
      try {
        connection.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch (err) {
        this.options.logger.warn({ path: this.path, reason: reasonOf(err) }, 'message store log not checkpointed at close');
      }
    }
    connection.db.close();
    return threadEnded;
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      atTurnEnd(this.flushNow);
    }
  }

  private connect(): OpenDatabase {
    const { keep, maxRooms = 0, maxBytes = 0 } = this.options;
    return openDatabase(this.path, { keep, maxRooms, maxBytes }, this.options.events ?? null);
  }

  /** From now on ids are greater than the newest this file ever stored: one row read, whatever the number of rooms. */
  private continueIds(connection: OpenDatabase): void {
    const totals = connection.totals.get();
    if (totals !== undefined) this.ids.continueAfter(idOf({ ms: totals.newestMs, seq: totals.newestSeq }));
  }

  /** The check phase after a turn: one transaction for the turn's messages and changes, then every sender hears. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const failure = this.write(batch);
    for (const pending of batch) {
      // Each sender hears, whatever another's callback does: a room waits for its answer.
      try {
        if ('change' in pending) pending.done(failure ?? (pending.outcome as NonNullable<typeof pending.outcome>));
        else if (!('message' in pending)) continue;
        else if (failure === null) pending.done(null, pending.message);
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
      this.checkpointer?.committed();
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

  private fileMoved(connection: OpenDatabase): string | null {
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
    let fresh: OpenDatabase;
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
    void this.stopCheckpointer();
    this.checkpointer = this.checkpointerFor(fresh);
    // A new file may hold older ids than the generator's (it only goes up), or newer ones.
    this.continueIds(fresh);
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
  private dropMoved(connection: OpenDatabase): void {
    this.connection = null;
    void this.stopCheckpointer();
    const removed = dropMovedFile(connection.db, this.path, connection.companions);
    this.options.logger.warn({ path: this.path, removed }, 'closed a removed or replaced database file; removed what it left beside it');
  }

  /**
   * Hands the connection's checkpoints to a thread (see Checkpointer). If the thread
   * fails, the connection checkpoints on commit again, at SQLite's default threshold.
   */
  private checkpointerFor(connection: OpenDatabase): Checkpointer {
    connection.db.pragma('wal_autocheckpoint = 0');
    const own = (pragma: string) => {
      if (this.connection !== connection) return;
      try {
        connection.db.pragma(pragma);
      } catch {
        // A connection that cannot take a pragma fails its next commit too, and is replaced.
      }
    };
    const behind = () => own('wal_checkpoint(PASSIVE)');
    return new Checkpointer(this.path, connection.file, BUSY_TIMEOUT_MS, this.options.logger, behind, () => own('wal_autocheckpoint = 1000'));
  }

  /** Resolves once the thread has ended (at once without one). */
  private stopCheckpointer(): Promise<void> {
    const ended = this.checkpointer?.close() ?? Promise.resolve();
    this.checkpointer = null;
    return ended;
  }

  private reading<T>(read: (connection: OpenDatabase) => T): T {
    if (this.connection === null) throw new StoreUnavailableError(this.broken ?? 'closed');
    try {
      return read(this.connection);
    } catch (err) {
      throw new StoreUnavailableError(reasonOf(err));
    }
  }
}

