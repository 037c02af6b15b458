/**
 * The SQLite store under real storage faults, with real processes: a full disk, a
 * volume that turns read-only, a DATA_DIR removed while running, and a DATA_DIR that
 * cannot be used at start. A refused message reaches nobody, the sender is told
 * (Socket.IO ack `unavailable`, raw close 1011), /readyz says 503 `store unavailable`,
 * the rest of the server keeps answering, and chat comes back once the fault is gone.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATABASE_FILE } from '../server/store/sqlite-store';
import { freshDataDir } from './support/data-dir';
import { itWithMounts, mountErrorProneExt4, mountTmpfs } from './support/mounts';
import { connectRaw } from './support/raw-client';
import { connectSio } from './support/sio-client';
import { runMain, spawnServer } from './support/spawn-server';
import { nextChat, rawJson, rawSend, sioSend, stop, textsOf } from './support/stored-chat';
import { waitUntil } from './support/wait';

// Most tests start the server twice, around a mount made, filled or broken: well over
// Jest's default on a loaded CI machine running two test files at once.
jest.setTimeout(60_000);

async function readyz(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.text()).trimEnd() };
}

/** Polls /readyz until it answers `status` (the store checks its file twice a second). */
async function waitForReadyz(url: string, status: number, timeoutMs = 10_000): Promise<void> {
  let last = { status: 0, body: '' };
  await waitUntil(async () => (last = await readyz(url)).status === status, `/readyz to answer ${status}`, timeoutMs).catch(() => {
    throw new Error(`/readyz still ${last.status} ${last.body} after ${timeoutMs} ms, expected ${status}`);
  });
}

/**
 * One fault while running, from the clients' side: `fault()` breaks the storage,
 * `repair()` mends it. Checks the whole promise: before, during, after, and after a
 * restart. HISTORY_SIZE=1 keeps one message in memory, so that a resume further back is
 * read from the store.
 */
async function survivesFault(dataDir: string, fault: () => void | Promise<void>, repair: () => void | Promise<void>): Promise<void> {
  // debug: the store's retries are logged, and the test waits for one.
  const env = { DATA_DIR: dataDir, HISTORY_SIZE: '1', LOG_LEVEL: 'debug' };
  const server = await spawnServer(env);
  const sender = await connectSio(server.url);
  const observer = await connectSio(server.url);
  const rawObserver = await rawJson(server.url);
  const rawSender = await rawJson(server.url);
  const firstId = await sioSend(sender, 'before, from socket.io');
  await rawSend(rawSender, 'before, from raw');
  expect(textsOf(await observer.chats.take(2))).toEqual(['before, from socket.io', 'before, from raw']);
  expect(textsOf([await nextChat(rawObserver), await nextChat(rawObserver)])).toEqual(['before, from socket.io', 'before, from raw']);

  const retries = () => server.lines.filter((line) => line.includes('"message store retrying"')).length;
  const retriesBeforeFault = retries();
  await fault();

  expect(await sender.chat('during the fault, from socket.io')).toEqual({ ok: false, error: 'unavailable' });
  rawSender.send('during the fault, from raw');
  expect(await rawSender.closed).toEqual({ code: 1011, reason: 'Message store unavailable' });
  expect(await readyz(server.url)).toEqual({ status: 503, body: 'store unavailable' });
  expect((await fetch(`${server.url}/`)).status).toBe(200);
  const newcomer = await connectSio(server.url);
  expect(textsOf(await newcomer.histories.next())).toEqual(['before, from raw']);
  // The store retries its file twice a second while failed: a retry must not take the
  // stored history away from readers. (On a full disk the retry may even succeed, since
  // opening the file needs no new space; the next message is then refused again.)
  await waitUntil(() => retries() > retriesBeforeFault, 'the store to retry its file');
  const resumed = await connectRaw(server.url, { format: 'json', since: firstId });
  expect(await resumed.nextJson()).toMatchObject({ type: 'chat', text: 'before, from raw' });

  await repair();

  try {
    await waitForReadyz(server.url, 200);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the server's store log: ${server.lines.filter((l) => l.includes('store')).join('\n')}`);
  }
  await sioSend(sender, 'after the repair');
  // The first chat the others get after the fault is this one: nothing refused reached them.
  expect((await observer.chats.next()).text).toBe('after the repair');
  expect((await nextChat(rawObserver)).text).toBe('after the repair');
  expect((await newcomer.chats.next()).text).toBe('after the repair');
  expect((await nextChat(resumed)).text).toBe('after the repair');
  await stop(server);

  const again = await spawnServer(env);
  const later = await connectRaw(again.url, { format: 'json', since: firstId });
  expect(textsOf([await nextChat(later), await nextChat(later)])).toEqual(['before, from raw', 'after the repair']);
  expect(await later.nextJson()).toMatchObject({ type: 'notice', kind: 'join' });
}

/** Every stored message's text, oldest first, read directly from a stopped server's sound database. */
function storedTexts(dataDir: string): string[] {
  const db = new Database(join(dataDir, DATABASE_FILE), { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    return db.prepare('SELECT text FROM messages ORDER BY ms, seq').pluck().all() as string[];
  } finally {
    db.close();
  }
}

/** Runs the entry point and expects exit 1 with one stderr line naming the DATA_DIR and the reason. */
async function expectStartFailure(env: Record<string, string>, dataDir: string, reason: RegExp): Promise<void> {
  const run = runMain({ PORT: '0', HOST: '127.0.0.1', ...env, DATA_DIR: dataDir });
  expect(await run.exited).toEqual({ code: 1, signal: null });
  const stderr = run.stderr();
  expect(stderr.endsWith('\n')).toBe(true);
  const lines = stderr.slice(0, -1).split('\n');
  expect(lines).toHaveLength(1);
  const prefix = `chat server failed to start: DATA_DIR ${JSON.stringify(dataDir)} cannot be used: `;
  expect(lines[0]?.startsWith(prefix)).toBe(true);
  expect(lines[0]?.slice(prefix.length)).toMatch(reason);
}

describe('store faults while running', () => {
  // Fault simulated: the disk holding DATA_DIR fills up (ENOSPC), then space is freed.
  itWithMounts('disk full: refuses messages without losing any, and takes them again once space is freed', async () => {
    const volume = mountTmpfs(2 * 1024 * 1024);
    let filler = '';
    await survivesFault(
      join(volume.dir, 'data'),
      () => {
        filler = volume.fill();
      },
      () => rmSync(filler),
    );
  }, 60_000);

  // Fault simulated: the volume turns read-only under the server (the kernel does that to
  // an ext4 mounted errors=remount-ro on a disk error), then is repaired and mounted again.
  itWithMounts('read-only volume: refuses messages, and takes them again once it is writable', async () => {
    const volume = mountErrorProneExt4(16 * 1024 * 1024);
    await survivesFault(
      join(volume.dir, 'data'),
      () => volume.fail(),
      () => volume.repair(),
    );
  }, 30_000, 'ext4');

  // Fault simulated: the operator stops the server (SIGTERM) while the disk is still full.
  itWithMounts('shuts down cleanly while the store is unavailable, and keeps what was acked', async () => {
    const volume = mountTmpfs(2 * 1024 * 1024);
    const dataDir = join(volume.dir, 'data');
    const server = await spawnServer({ DATA_DIR: dataDir });
    const sender = await connectSio(server.url);
    await sioSend(sender, 'acked');
    const filler = volume.fill();
    expect(await sender.chat('refused')).toEqual({ ok: false, error: 'unavailable' });
    // One more as the shutdown begins: refused if the server reads it before the signal,
    // or its client dropped unanswered if after (on a loaded machine either comes first);
    // never acked, never stored, and no crash.
    const last = new Promise<unknown>((resolve) => {
      sender.socket.emit('chat', 'refused on the way out', resolve);
      sender.socket.once('disconnect', () => resolve('disconnected without an answer'));
    });
    server.child.kill('SIGTERM');
    expect([{ ok: false, error: 'unavailable' }, 'disconnected without an answer']).toContainEqual(await last);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.lines.filter((l) => /uncaught|unhandled/i.test(l))).toEqual([]);

    rmSync(filler);
    const again = await spawnServer({ DATA_DIR: dataDir });
    expect(textsOf(await (await connectSio(again.url)).histories.next())).toEqual(['acked']);
  });

  // Fault simulated: someone (a cleanup script, an operator) runs rm -rf on DATA_DIR
  // while the server runs; later the directory is made again.
  it('DATA_DIR removed: refuses messages, and starts a fresh database once the directory exists again', async () => {
    const dataDir = freshDataDir();
    const server = await spawnServer({ DATA_DIR: dataDir });
    const sender = await connectSio(server.url);
    const observer = await connectSio(server.url);
    await sioSend(sender, 'before');
    expect((await observer.chats.next()).text).toBe('before');

    rmSync(dataDir, { recursive: true, force: true });
    expect(await sender.chat('into the void')).toEqual({ ok: false, error: 'unavailable' });
    expect(await readyz(server.url)).toEqual({ status: 503, body: 'store unavailable' });
    // It stays refused while the directory is missing: no database is made elsewhere.
    expect(await sender.chat('still nowhere')).toEqual({ ok: false, error: 'unavailable' });

    mkdirSync(dataDir);
    await waitForReadyz(server.url, 200);
    await sioSend(sender, 'after');
    expect((await observer.chats.next()).text).toBe('after');
    await stop(server);

    const again = await spawnServer({ DATA_DIR: dataDir });
    expect(textsOf(await (await connectSio(again.url)).histories.next())).toEqual(['after']);
  });

  // Fault simulated: the database file alone is deleted (rm data/chat.sqlite), its -wal
  // and -shm left behind.
  it('database file removed: noticed by /readyz without any message, then a fresh, sound database is made', async () => {
    const dataDir = freshDataDir();
    const server = await spawnServer({ DATA_DIR: dataDir });
    const sender = await connectSio(server.url);
    for (let i = 0; i < 20; i += 1) await sioSend(sender, `before ${i}`);
    rmSync(join(dataDir, DATABASE_FILE));
    await waitForReadyz(server.url, 503);
    await waitForReadyz(server.url, 200);
    await sioSend(sender, 'after');
    await stop(server);
    expect(storedTexts(dataDir)).toEqual(['after']);
  });

  // Fault simulated: an operator restores a backup by moving another database file over
  // chat.sqlite while the server runs (the old file's -wal is still there).
  it('database file replaced: noticed, then the new file is used, without the old file’s write-ahead log', async () => {
    const backupDir = freshDataDir();
    const backup = await spawnServer({ DATA_DIR: backupDir });
    await sioSend(await connectSio(backup.url), 'from the backup');
    await stop(backup);

    const dataDir = freshDataDir();
    const server = await spawnServer({ DATA_DIR: dataDir });
    const sender = await connectSio(server.url);
    for (let i = 0; i < 20; i += 1) await sioSend(sender, `old ${i}`);
    expect(existsSync(join(dataDir, `${DATABASE_FILE}-wal`))).toBe(true);
    renameSync(join(backupDir, DATABASE_FILE), join(dataDir, DATABASE_FILE));
    await waitForReadyz(server.url, 503);
    await waitForReadyz(server.url, 200);
    await sioSend(sender, 'after the restore');
    await stop(server);

    expect(storedTexts(dataDir)).toEqual(['from the backup', 'after the restore']);
  });
});

describe('DATA_DIR unusable at start', () => {
  // Fault simulated: DATA_DIR points at a file (a typo, a volume not mounted as expected).
  it('a regular file: exit 1, one line', async () => {
    const parent = freshDataDir();
    const file = join(parent, 'not-a-directory');
    writeFileSync(file, 'hello');
    await expectStartFailure({}, file, /^not a directory/);
  });

  // Fault simulated: DATA_DIR on a volume mounted read-only.
  itWithMounts('an empty read-only mount: exit 1, one line', async () => {
    const volume = mountTmpfs(1024 * 1024, { readOnly: true });
    await expectStartFailure({}, volume.dir, /read-only/);
  });

  // Fault simulated: a volume holding a database, mounted read-only on the next start.
  itWithMounts('a read-only mount holding a database: exit 1, one line', async () => {
    const volume = mountTmpfs(2 * 1024 * 1024);
    const dataDir = join(volume.dir, 'data');
    const server = await spawnServer({ DATA_DIR: dataDir });
    await sioSend(await connectSio(server.url), 'kept');
    await stop(server);
    volume.remount('ro');
    await expectStartFailure({}, dataDir, /read-only/);
  });

  // Fault simulated: the database file is garbage (a bad restore, a disk error).
  it('a corrupt database file: exit 1, one line', async () => {
    const dataDir = freshDataDir();
    writeFileSync(join(dataDir, DATABASE_FILE), Buffer.alloc(64 * 1024, 'garbage! '));
    await expectStartFailure({}, dataDir, /corrupt/);
  });

  // The primary of WORKERS=2 checks DATA_DIR once, so the operator reads it once.
  it('with WORKERS=2: exit 1, one line', async () => {
    const dataDir = freshDataDir();
    writeFileSync(join(dataDir, DATABASE_FILE), Buffer.alloc(64 * 1024, 'garbage! '));
    await expectStartFailure({ WORKERS: '2' }, dataDir, /corrupt/);
    const parent = freshDataDir();
    const file = join(parent, 'not-a-directory');
    writeFileSync(file, 'hello');
    await expectStartFailure({ WORKERS: '2' }, file, /^not a directory/);
  });
});
