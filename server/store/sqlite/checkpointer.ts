/**
 * Checkpoints a store's write-ahead log from a thread of its own, so that the event loop
 * does not wait for it. SQLite's automatic checkpoint runs inside the commit that crosses
 * its threshold: it copies the pages the log holds into the file and syncs both
 * (`synchronous=NORMAL`), and every message arriving meanwhile waits. Here the store's
 * connection turns that off (`wal_autocheckpoint=0`), and a second connection, in a
 * worker thread, runs PASSIVE checkpoints (which block no reader or writer) after every
 * CHECKPOINT_EVERY commits.
 *
 * The log starts over (SQLite's restart, at the next commit) only once every frame in it
 * is in the file. A checkpoint that runs while the store commits never quite gets there,
 * so the thread goes again while frames were added meanwhile; if the store is still
 * ahead after MAX_ROUNDS, the store checkpoints the few frames left itself (`onBehind`).
 * So the log stays near CHECKPOINT_EVERY commits long, whatever the load.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

/**
 * Commits between two checkpoints: about SQLite's own threshold (1000 pages of log) at
 * the three pages a one-message commit writes, so that the checkpoints do the work they
 * did inside the commits, no more.
 */
export const CHECKPOINT_EVERY = 300;

// Plain JavaScript, run with `eval`: the same code under tsx (tests, bench) and from dist/.
const THREAD_SOURCE = `
const { statSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const { path, dev, ino } = workerData;
const MAX_ROUNDS = 4;
const same = () => {
  const now = statSync(path, { throwIfNoEntry: false });
  return now !== undefined && now.dev === dev && now.ino === ino;
};
// The file at the path must be the store's, before and after the open: another one put
// in its place would be checkpointed with the store's log.
if (!same()) throw new Error('database file replaced before the checkpoint thread opened it');
const db = new Database(path, { fileMustExist: true, timeout: workerData.busyTimeoutMs });
if (!same()) {
  db.close();
  throw new Error('database file replaced while the checkpoint thread opened it');
}
db.pragma('synchronous = NORMAL');
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    let frames = -1;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const [done] = db.pragma('wal_checkpoint(PASSIVE)');
      if (done.busy !== 0) return;
      if (done.log === frames && done.checkpointed === done.log) return;
      frames = done.log;
    }
    parentPort.postMessage({ behind: true });
  } catch (err) {
    parentPort.postMessage({ failed: String(err && err.message) });
  }
});
`;

export class Checkpointer {
  private readonly thread: Worker;
  private commits = 0;
  private stopped = false;
  /** Resolves once the thread has ended. */
  private readonly exited: Promise<void>;

  /**
   * @param file the identity of the store's file as its connection opened it: the thread
   *   opens that file or none.
   * @param onBehind the store commits faster than the thread checkpoints: the store
   *   checkpoints the frames left itself, so that its log starts over.
   * @param onFailure called once if the thread cannot checkpoint (it could not open the
   *   file, or died): the store then checkpoints on commit again.
   */
  constructor(
    path: string,
    file: { dev: number; ino: number },
    busyTimeoutMs: number,
    private readonly logger: Logger,
    onBehind: () => void,
    private readonly onFailure: () => void,
  ) {
    const workerData = { path, dev: file.dev, ino: file.ino, busyTimeoutMs, driver: require.resolve('better-sqlite3') };
    this.thread = new Worker(THREAD_SOURCE, { eval: true, workerData });
    this.thread.unref();
    this.exited = new Promise((resolve) => this.thread.once('exit', () => resolve()));
    this.thread.on('message', (message: { behind?: true; failed?: string }) => {
      if (message.behind === true) onBehind();
      else this.logger.warn({ path, reason: message.failed }, 'message store log checkpoint failed');
    });
    this.thread.on('error', (err) => this.fail(path, err.message));
    this.thread.on('exit', (code) => {
      if (code !== 0) this.fail(path, `checkpoint thread exited with ${code}`);
    });
  }

  /** A commit was made: every CHECKPOINT_EVERY of them, the thread checkpoints. */
  committed(): void {
    this.commits += 1;
    if (this.commits < CHECKPOINT_EVERY || this.stopped) return;
    this.commits = 0;
    this.thread.postMessage('checkpoint');
  }

  /**
   * Closes the thread's connection; the thread ends once a checkpoint under way is done,
   * and the promise returned resolves then. A thread still starting opens the file first:
   * its -wal and -shm files come and go after the store has closed.
   */
  close(): Promise<void> {
    this.stopped = true;
    this.thread.postMessage('close');
    return this.exited;
  }

  private fail(path: string, reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.logger.warn({ path, reason }, 'message store checkpoint thread stopped; checkpointing on commit again');
    this.onFailure();
  }
}
