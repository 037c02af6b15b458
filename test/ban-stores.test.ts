/**
 * The ban stores: one behaviour, run against memory, SQLite (a real file under a real
 * DATA_DIR) and Redis (a throwaway redis-server), each opened as openBanStore opens it;
 * then what only a durable store does: survive a reopen, share changes between workers or
 * nodes, and refuse calls while its file or its Redis cannot be used. Last, a node's
 * index kept current from the store's changes, one ban at a time.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import { BanList } from '../server/access/ban-list';
import { BANNED, type Ban, type Kicked } from '../server/protocol';
import { Rooms } from '../server/room/rooms';
import { Moderation } from '../server/session/moderation';
import { BAN_LOG_SIZE, type BanChanges, type BanStore } from '../server/store/ban-store';
import { MemoryBanStore } from '../server/store/memory-ban-store';
import { StoreUnavailableError } from '../server/store/message-store';
import { openBanStore } from '../server/store/open-ban-store';
import { byId } from '../server/store/ban-records';
import { BANS_KEY, BANS_LOG_KEY, BANS_VERSION_KEY, RedisBanStore } from '../server/store/redis-ban-store';
import { DATABASE_FILE, DataDirError } from '../server/store/sqlite-store';
import { BAN_DATABASE_FILE, BAN_SCHEMA_VERSION, SqliteBanStore } from '../server/store/sqlite-ban-store';
import { createLogger } from '../server/support/logger';
import { startRedisProcess, type RedisProcess } from '../tools/redis-process';
import { API_TEST_KEY, callApi } from './support/api';
import { onCleanup } from './support/cleanup';
import { freshDataDir } from './support/data-dir';
import { EventQueue } from './support/event-queue';
import { describeWithRedis, startRedis } from './support/redis';
import { memoryStore } from './support/room-fakes';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';
import { waitUntil } from './support/wait';

const logger = createLogger('silent');

/** A ban of `id` on a user of the same name, everywhere, for good, unless `over` says otherwise. */
const banOf = (id: string, over: Partial<Ban> = {}): Ban => ({
  id,
  kind: 'ban',
  user: `user-${id}`,
  room: null,
  until: null,
  reason: 'spam',
  at: 1_000,
  by: 'api',
  ...over,
});

/** `count` bans with ids in order of `i`, bans by user and mutes by address, added `batch` at a time through the store's API. */
async function addMany(store: BanStore, count: number, batch = 1_000): Promise<Ban[]> {
  const bans = Array.from({ length: count }, (_, i) => {
    const id = `b${String(i).padStart(6, '0')}`;
    if (i % 2 === 0) return banOf(id);
    const { user: _user, ...rest } = banOf(id, { kind: 'mute', room: 'lobby', ip: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` });
    return rest;
  });
  for (let i = 0; i < count; i += batch) await Promise.all(bans.slice(i, i + batch).map((ban) => store.add(ban)));
  return bans;
}

/** A ban as one string, its keys in order: 100000 of them compare in a fraction of what deep equality takes. */
const flat = (bans: readonly Ban[]) => bans.map((ban) => JSON.stringify(ban, Object.keys(ban).sort()));

async function unavailable(call: Promise<unknown>): Promise<StoreUnavailableError> {
  const error = await call.then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(StoreUnavailableError);
  return error as StoreUnavailableError;
}

/** What `store` answers for changes since `since`, which must be something, its lists in id order. */
async function changesOf(store: BanStore, since: number): Promise<BanChanges> {
  const changes = await store.changes(since);
  if (changes === null) throw new Error(`the store knows no changes since ${since}`);
  return { version: changes.version, added: [...changes.added].sort(byId), removed: [...changes.removed].sort() };
}

function closedAfterTest<S extends BanStore>(store: S): S {
  onCleanup('servers', () => store.close());
  return store;
}

/** What every ban store does, on a new empty store from `open`. */
function behavesAsABanStore(open: () => Promise<BanStore>, hundredThousandMs: number): void {
  it('keeps what is added, answers it in id order, and lifts it; each add and remove changes the version', async () => {
    const store = await open();
    const versions = [await store.version()];
    const b = banOf('b', { kind: 'mute', room: 'lobby', until: Number.MAX_SAFE_INTEGER, reason: 'flood', by: 'mod-1' });
    const { user: _user, ...a } = banOf('a', { ip: '2001:db8::1' });
    await store.add(b);
    versions.push(await store.version());
    await store.add(a);
    versions.push(await store.version());
    // What the caller does to its object afterwards is not what is kept.
    b.reason = 'changed after';
    expect(await store.load(Date.now())).toEqual([a, { ...b, reason: 'flood' }]);

    expect(await store.remove('a')).toEqual(a);
    versions.push(await store.version());
    expect(new Set(versions).size).toBe(4);
    expect(await store.load(Date.now())).toEqual([{ ...b, reason: 'flood' }]);
    // Nothing to lift is no change.
    expect(await store.remove('a')).toBeNull();
    expect(await store.version()).toBe(versions[3]);
  });

  it('drops expired bans as it loads, and that changes no version: every node skips them already', async () => {
    const store = await open();
    await store.add(banOf('timed', { until: 5_000 }));
    await store.add(banOf('forever'));
    const version = await store.version();
    expect((await store.load(4_999)).map((ban) => ban.id)).toEqual(['forever', 'timed']);
    // A ban holds until its time, not at it.
    expect((await store.load(5_000)).map((ban) => ban.id)).toEqual(['forever']);
    // Gone from the store, not only from the answer.
    expect((await store.load(0)).map((ban) => ban.id)).toEqual(['forever']);
    expect(await store.version()).toBe(version);
  });

  it('answers null for a ban lifted after its time', async () => {
    const store = await open();
    await store.add(banOf('past', { until: 1 }));
    expect(await store.remove('past')).toBeNull();
    expect(await store.load(0)).toEqual([]);
  });

  it('tells what changed since a version: applied to an index of the bans then, it gives the bans now', async () => {
    const store = await open();
    for (const id of ['kept', 'lifted', 'replaced']) await store.add(banOf(id));
    const since = await store.version();
    const index = new BanList(await store.load(Date.now()));

    await store.remove('lifted');
    await store.add(banOf('replaced', { reason: 'again' }));
    await store.add(banOf('new', { kind: 'mute', room: 'lobby' }));
    // Added and lifted since: only removed (the index never had it; removing nothing is fine).
    await store.add(banOf('brief'));
    await store.remove('brief');
    // Lifted and added again since: only added, as it is now.
    await store.add(banOf('back'));
    await store.remove('back');
    await store.add(banOf('back', { reason: 'returned' }));
    // No change.
    await store.remove('never-there');

    const version = await store.version();
    expect(await changesOf(store, since)).toEqual({
      version,
      added: [banOf('back', { reason: 'returned' }), banOf('new', { kind: 'mute', room: 'lobby' }), banOf('replaced', { reason: 'again' })],
      removed: ['brief', 'lifted'],
    });
    const changes = await changesOf(store, since);
    for (const id of changes.removed) index.remove(id);
    for (const ban of changes.added) index.add(ban);
    expect([...index.all()].sort(byId)).toEqual(await store.load(Date.now()));
    // Nothing since the version it is at.
    expect(await store.changes(version)).toEqual({ version, added: [], removed: [] });
  });

  it(`remembers the last ${BAN_LOG_SIZE} changes: null for a version before them, or one it never had`, async () => {
    const store = await open();
    const start = await store.version();
    for (let i = 0; i < BAN_LOG_SIZE; i += 1) await store.add(banOf(`b${String(i).padStart(4, '0')}`));
    // Exactly the log's length since `start`: still known.
    expect((await changesOf(store, start)).added).toHaveLength(BAN_LOG_SIZE);
    await store.add(banOf('one-more'));
    expect(await store.changes(start)).toBeNull();
    const known = await changesOf(store, start + 1);
    expect(known.version).toBe(start + BAN_LOG_SIZE + 1);
    expect(known.added.map((ban) => ban.id)).toEqual([...Array.from({ length: BAN_LOG_SIZE - 1 }, (_, i) => `b${String(i + 1).padStart(4, '0')}`), 'one-more']);
    expect(await store.changes(known.version + 1)).toBeNull();
    expect(await store.changes(start + 1.5)).toBeNull();
  });

  it('holds 100000 bans: all loaded in id order, each add and remove counted; one more is one change, not a load', async () => {
    const store = await open();
    const before = await store.version();
    const bans = await addMany(store, 100_000);
    expect(await store.version()).toBe(before + 100_000);
    expect(flat(await store.load(Date.now()))).toEqual(flat(bans));
    // Far more changes than the log holds: the caller must load them all.
    expect(await store.changes(before)).toBeNull();

    const loaded = await store.version();
    const extra = banOf('z-one-more');
    await store.add(extra);
    expect(await store.changes(loaded)).toEqual({ version: loaded + 1, added: [extra], removed: [] });

    for (let i = 0; i < 1_000; i += 1) expect(await store.remove((bans[i * 100] as Ban).id)).toEqual(bans[i * 100]);
    expect(await store.version()).toBe(before + 101_001);
    expect(await changesOf(store, loaded + 1)).toEqual({ version: before + 101_001, added: [], removed: bans.filter((_, i) => i % 100 === 0).map((ban) => ban.id) });
    expect(flat(await store.load(Date.now()))).toEqual(flat([...bans.filter((_, i) => i % 100 !== 0), extra]));
  }, hundredThousandMs);

  it('refuses every call once closed', async () => {
    const store = await open();
    await store.add(banOf('kept'));
    await store.close();
    await unavailable(store.add(banOf('late')));
    await unavailable(store.remove('kept'));
    await unavailable(store.load(0));
    await unavailable(store.version());
    await unavailable(store.changes(0));
  });
}

describe('the memory ban store (DATA_DIR=:memory:)', () => {
  behavesAsABanStore(async () => closedAfterTest(openBanStore({ dataDir: null, redisUrl: null }, logger)), 30_000);

  it('is what openBanStore gives without REDIS_URL and DATA_DIR', () => {
    expect(closedAfterTest(openBanStore({ dataDir: null, redisUrl: null }, logger))).toBeInstanceOf(MemoryBanStore);
  });
});

describe('the SQLite ban store', () => {
  const openOn = (dir: string) => closedAfterTest(openBanStore({ dataDir: dir, redisUrl: null }, logger));

  behavesAsABanStore(async () => openOn(freshDataDir()), 60_000);

  it('is a file of its own under DATA_DIR, in WAL mode, apart from the messages', async () => {
    const dir = freshDataDir();
    const store = openOn(dir);
    expect(store).toBeInstanceOf(SqliteBanStore);
    await store.add(banOf('one'));
    expect(existsSync(join(dir, BAN_DATABASE_FILE))).toBe(true);
    expect(existsSync(join(dir, DATABASE_FILE))).toBe(false);
    const file = new Database(join(dir, BAN_DATABASE_FILE), { readonly: true });
    onCleanup('servers', () => file.close());
    expect(file.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(file.prepare('SELECT id, until FROM bans').all()).toEqual([{ id: 'one', until: null }]);
    await store.remove('one');
    // Each change logged in its own transaction, under the version it made.
    expect(file.prepare('SELECT version, id, op FROM ban_log ORDER BY version').all()).toEqual([
      { version: 1, id: 'one', op: 'add' },
      { version: 2, id: 'one', op: 'remove' },
    ]);
  });

  it('survives a close and a reopen on the same DATA_DIR, version and all', async () => {
    const dir = freshDataDir();
    const first = openOn(dir);
    const bans = [banOf('a'), banOf('b', { until: Number.MAX_SAFE_INTEGER }), banOf('c')];
    for (const ban of bans) await first.add(ban);
    await first.remove('b');
    const version = await first.version();
    first.close();

    const again = openOn(dir);
    expect(await again.load(Date.now())).toEqual([bans[0], bans[2]]);
    expect(await again.version()).toBe(version);
    // The log is in the file: a restarted worker asks what changed since the version it had.
    await again.add(banOf('d'));
    expect(await again.changes(version)).toEqual({ version: version + 1, added: [banOf('d')], removed: [] });
  });

  it('two stores on one file (two workers) see each other’s changes through version and load', async () => {
    const dir = freshDataDir();
    const one = openOn(dir);
    const two = openOn(dir);
    const seen = await two.version();
    await one.add(banOf('from-one'));
    expect(await two.version()).not.toBe(seen);
    expect((await two.load(Date.now())).map((ban) => ban.id)).toEqual(['from-one']);
    expect(await two.changes(seen)).toEqual({ version: await two.version(), added: [banOf('from-one')], removed: [] });

    const seenByOne = await one.version();
    expect(await two.remove('from-one')).toEqual(banOf('from-one'));
    expect(await one.version()).not.toBe(seenByOne);
    expect(await one.load(Date.now())).toEqual([]);
    expect(await one.changes(seenByOne)).toEqual({ version: await one.version(), added: [], removed: ['from-one'] });
  });

  it('a file of schema 1 (no log) gets one: what changed before it is unknown, what changes after is told', async () => {
    const dir = freshDataDir();
    const old = new Database(join(dir, BAN_DATABASE_FILE));
    old.exec(`
      CREATE TABLE bans (id TEXT PRIMARY KEY, json TEXT NOT NULL, until INTEGER) WITHOUT ROWID;
      CREATE TABLE version (one INTEGER PRIMARY KEY CHECK (one = 1), n INTEGER NOT NULL);
      INSERT INTO version (one, n) VALUES (1, 1);
    `);
    old.prepare('INSERT INTO bans (id, json, until) VALUES (?, ?, NULL)').run('old', JSON.stringify(banOf('old')));
    old.pragma('user_version = 1');
    old.close();

    const store = openOn(dir);
    expect(await store.load(Date.now())).toEqual([banOf('old')]);
    expect(await store.version()).toBe(1);
    expect(await store.changes(0)).toBeNull();
    await store.add(banOf('new'));
    expect(await store.changes(1)).toEqual({ version: 2, added: [banOf('new')], removed: [] });
    const file = new Database(join(dir, BAN_DATABASE_FILE), { readonly: true });
    onCleanup('servers', () => file.close());
    expect(file.pragma('user_version', { simple: true })).toBe(BAN_SCHEMA_VERSION);
  });

  it('skips a row that is no ban (written by hand) and loads the rest', async () => {
    const dir = freshDataDir();
    const store = openOn(dir);
    await store.add(banOf('good'));
    const file = new Database(join(dir, BAN_DATABASE_FILE));
    file.prepare("INSERT INTO bans (id, json, until) VALUES ('bad', 'not json', NULL)").run();
    file.close();
    expect(await store.load(Date.now())).toEqual([banOf('good')]);
  });

  it('DATA_DIR removed: every call refused, then a fresh file once the directory is back', async () => {
    const dir = freshDataDir();
    const store = openOn(dir);
    await store.add(banOf('lost'));
    const before = await store.version();
    rmSync(dir, { recursive: true, force: true });
    expect((await unavailable(store.add(banOf('refused')))).reason).toBe('directory removed');
    await unavailable(store.remove('lost'));
    await unavailable(store.load(0));
    await unavailable(store.version());
    // No file is made while the directory is missing.
    expect(existsSync(dir)).toBe(false);

    mkdirSync(dir);
    await store.add(banOf('after'));
    expect(await store.load(Date.now())).toEqual([banOf('after')]);
    expect(await store.version()).not.toBe(before);
  });

  it('file replaced by garbage: refused as corrupt', async () => {
    const dir = freshDataDir();
    const store = openOn(dir);
    await store.add(banOf('one'));
    const garbage = join(dir, 'garbage');
    writeFileSync(garbage, Buffer.alloc(64 * 1024, 'garbage! '));
    renameSync(garbage, join(dir, BAN_DATABASE_FILE));
    expect((await unavailable(store.load(0))).reason).toMatch(/corrupt/);
    await unavailable(store.add(banOf('two')));
  });

  it('file replaced by another (a backup restored): its bans are loaded, and the version changes though its count is the same', async () => {
    const backupDir = freshDataDir();
    const backup = openOn(backupDir);
    await backup.add(banOf('from-backup'));
    backup.close();

    const dir = freshDataDir();
    const store = openOn(dir);
    await store.add(banOf('current'));
    const before = await store.version();
    renameSync(join(backupDir, BAN_DATABASE_FILE), join(dir, BAN_DATABASE_FILE));
    // Its log counts another file's changes: what changed since a version of the old one is unknown.
    expect(await store.changes(before)).toBeNull();
    const restored = await store.version();
    expect(restored).not.toBe(before);
    expect(await store.load(Date.now())).toEqual([banOf('from-backup')]);
    await store.add(banOf('after'));
    expect((await store.load(Date.now())).map((ban) => ban.id)).toEqual(['after', 'from-backup']);
    expect(await store.changes(restored)).toEqual({ version: restored + 1, added: [banOf('after')], removed: [] });
  });

  describe('a DATA_DIR that cannot be used at start: DataDirError, saying why', () => {
    it('a regular file', () => {
      const file = join(freshDataDir(), 'not-a-directory');
      writeFileSync(file, 'hello');
      expect(() => openOn(file)).toThrow(DataDirError);
      expect(() => openOn(file)).toThrow(/not a directory/);
    });

    it('a corrupt moderation.sqlite', () => {
      const dir = freshDataDir();
      writeFileSync(join(dir, BAN_DATABASE_FILE), Buffer.alloc(64 * 1024, 'garbage! '));
      expect(() => openOn(dir)).toThrow(DataDirError);
      expect(() => openOn(dir)).toThrow(/moderation\.sqlite: corrupt/);
    });

    it('a file written by a newer version', () => {
      const dir = freshDataDir();
      const file = new Database(join(dir, BAN_DATABASE_FILE));
      file.pragma('user_version = 99');
      file.close();
      expect(() => openOn(dir)).toThrow(/newer version/);
    });
  });
});

// What server/cluster/redis.ts gives the history's connection, which the ban store shares.
const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** retries, 500);

/** A client as `createClient({ url, ... })` makes it: no modules, scripts or functions, RESP3. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type BanRedisClient = RedisClientType<{}, {}, {}, 3, {}>;

async function connectTo(url: string): Promise<BanRedisClient> {
  const client: BanRedisClient = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy } });
  // The outage's lost connection; the store's calls report it.
  client.on('error', () => undefined);
  await client.connect();
  onCleanup('clients', () => client.destroy());
  return client;
}

const event = (client: BanRedisClient, name: string) => new Promise<void>((resolve) => client.once(name, () => resolve()));

describeWithRedis('the Redis ban store', () => {
  let redis: RedisProcess;
  // Not startRedis: in a beforeAll after other tests of the file have run, onCleanup takes
  // it for the last test's, and would stop it after this describe's first test.
  beforeAll(async () => {
    redis = await startRedisProcess();
  });
  afterAll(() => redis.stop());
  beforeEach(async () => {
    await redis.flush();
  });

  const openOn = async (url: string) => {
    const client = await connectTo(url);
    return { client, store: closedAfterTest(openBanStore({ dataDir: null, redisUrl: url }, logger, client)) };
  };

  behavesAsABanStore(async () => (await openOn(redis.url)).store, 60_000);

  it('is one hash, one counter and one log in Redis', async () => {
    const { client, store } = await openOn(redis.url);
    expect(store).toBeInstanceOf(RedisBanStore);
    await store.add(banOf('one'));
    expect(JSON.parse((await client.hGet(BANS_KEY, 'one')) as string)).toEqual(banOf('one'));
    expect(await client.get(BANS_VERSION_KEY)).toBe('1');
    await store.remove('one');
    expect(await client.zRangeWithScores(BANS_LOG_KEY, 0, -1)).toEqual([
      { value: '1:add:one', score: 1 },
      { value: '2:remove:one', score: 2 },
    ]);
  });

  it('tells the changes of a ban whose id holds colons', async () => {
    const { store } = await openOn(redis.url);
    await store.add(banOf('a:b:c'));
    expect(await store.changes(0)).toEqual({ version: 1, added: [banOf('a:b:c')], removed: [] });
  });

  it('survives a new client, version and all', async () => {
    const first = await openOn(redis.url);
    await first.store.add(banOf('a'));
    await first.store.add(banOf('b'));
    await first.store.remove('a');
    const version = await first.store.version();
    first.store.close();
    first.client.destroy();

    const again = await openOn(redis.url);
    expect(await again.store.load(Date.now())).toEqual([banOf('b')]);
    expect(await again.store.version()).toBe(version);
    // The same Redis: what changed since a version the old client read is known.
    await again.store.add(banOf('c'));
    expect(await again.store.changes(version)).toEqual({ version: version + 1, added: [banOf('c')], removed: [] });
  });

  it('two nodes see each other’s changes through version and load', async () => {
    const one = (await openOn(redis.url)).store;
    const two = (await openOn(redis.url)).store;
    const seen = await two.version();
    await one.add(banOf('from-one'));
    expect(await two.version()).not.toBe(seen);
    expect(await two.load(Date.now())).toEqual([banOf('from-one')]);
    expect(await two.changes(seen)).toEqual({ version: await two.version(), added: [banOf('from-one')], removed: [] });
    const seenByOne = await one.version();
    expect(await two.remove('from-one')).toEqual(banOf('from-one'));
    expect(await one.version()).not.toBe(seenByOne);
    expect(await one.load(Date.now())).toEqual([]);
    expect(await one.changes(seenByOne)).toEqual({ version: await one.version(), added: [], removed: ['from-one'] });
  });

  it('skips an entry that is no ban (written by hand) and loads the rest', async () => {
    const { client, store } = await openOn(redis.url);
    await store.add(banOf('good'));
    await client.hSet(BANS_KEY, 'bad', 'not json');
    expect(await store.load(Date.now())).toEqual([banOf('good')]);
  });

  it('is not the message store’s: openBanStore wants the cluster’s connection', () => {
    expect(() => openBanStore({ dataDir: null, redisUrl: redis.url }, logger)).toThrow(/connection/);
  });
});

describeWithRedis('the Redis ban store in an outage', () => {
  it('refuses every call while Redis is down; back on a Redis restarted empty, the version differs even at the same count', async () => {
    const redis = await startRedis();
    const client = await connectTo(redis.url);
    const store = closedAfterTest(openBanStore({ dataDir: null, redisUrl: redis.url }, logger, client));
    await store.add(banOf('before'));
    const before = await store.version();

    const lost = event(client, 'reconnecting');
    await redis.stop();
    await lost;
    await unavailable(store.add(banOf('refused')));
    await unavailable(store.remove('before'));
    await unavailable(store.load(0));
    await unavailable(store.version());
    await unavailable(store.changes(before));

    const back = event(client, 'ready');
    await redis.start();
    await back;
    await store.add(banOf('after'));
    expect(await store.version()).not.toBe(before);
    // Its count started over: what changed since a version read before is unknown.
    expect(await store.changes(before)).toBeNull();
    expect(await store.load(Date.now())).toEqual([banOf('after')]);
  });
});

describe('a node’s index of the bans, kept current from the store’s changes', () => {
  it('another worker’s ban and lift reach the index one at a time, the index not built again; past the log, it loads them all', async () => {
    const dir = freshDataDir();
    const rooms = new Rooms({ maxRooms: 10, historySize: 10, historyBytes: 1 << 20, store: memoryStore(), logger });
    const moderation = new Moderation({ store: openBanStore({ dataDir: dir, redisUrl: null }, logger), rooms, logger, pollMs: 10 });
    onCleanup('servers', async () => {
      await moderation.close();
      rooms.close();
    });
    const worker = closedAfterTest(openBanStore({ dataDir: dir, redisUrl: null }, logger));
    await worker.add(banOf('a-first'));
    await moderation.start();
    const [first] = moderation.page(undefined, 10).bans;
    expect(first?.id).toBe('a-first');
    const who = { user: 'second', ip: '10.0.0.1' };

    await worker.add(banOf('b-second', { user: 'second', room: 'alpha' }));
    await waitUntil(() => moderation.banned(who, 'alpha') !== null, 'the other worker’s ban in the index');
    const page = moderation.page(undefined, 10).bans;
    expect(page.map((ban) => ban.id)).toEqual(['a-first', 'b-second']);
    // Changed in place: the ban it held before is the very object it holds now.
    expect(page[0]).toBe(first);

    await worker.remove('a-first');
    await waitUntil(() => moderation.page(undefined, 10).bans.length === 1, 'the lifted ban gone from the index');
    const [second] = moderation.page(undefined, 10).bans;
    expect(second?.id).toBe('b-second');

    // More changes than the log holds, all made before the node's next poll (SQLite answers at once).
    await Promise.all(Array.from({ length: BAN_LOG_SIZE + 1 }, (_, i) => worker.add(banOf(`c${String(i).padStart(4, '0')}`))));
    await waitUntil(() => moderation.page(undefined, BAN_LOG_SIZE + 10).bans.length === BAN_LOG_SIZE + 2, 'every ban in the index');
    const [reloaded] = moderation.page(undefined, 1).bans;
    // Loaded again from the store: the same ban, a new object.
    expect(reloaded).toEqual(second);
    expect(reloaded).not.toBe(second);
  });

  it('a ban made through one server’s API ends a client’s connection on another sharing its DATA_DIR, and its lift lets them back', async () => {
    const dir = freshDataDir();
    const one = await startTestServer({ API_KEY: API_TEST_KEY, DATA_DIR: dir });
    const two = await startTestServer({ API_KEY: API_TEST_KEY, DATA_DIR: dir });
    const troll = await connectSio(two.url, { auth: { name: 'troll' }, room: 'alpha' });
    const bystander = await connectSio(two.url, { auth: { name: 'ann' }, room: 'alpha' });
    const kicked = new EventQueue<Kicked>('kicked');
    const gone = new EventQueue<string>('disconnect');
    troll.socket.on('kicked', (event) => kicked.push(event));
    troll.socket.on('disconnect', (reason) => gone.push(reason));

    const made = await callApi<Ban>(one.url, 'POST', '/api/bans', { json: { user: 'troll', room: 'alpha', reason: 'spam' } });
    expect(made.status).toBe(201);
    expect(await kicked.next()).toEqual({ room: 'alpha', reason: BANNED });
    expect(await gone.next()).toBe('io server disconnect');
    expect((await callApi<{ bans: Ban[] }>(two.url, 'GET', '/api/bans')).body.bans).toEqual([made.body]);
    await expect(connectSio(two.url, { auth: { name: 'troll' }, room: 'alpha' })).rejects.toThrow(BANNED);
    expect(await bystander.chat('still here')).toMatchObject({ ok: true });

    expect((await callApi(one.url, 'DELETE', `/api/bans/${made.body.id}`)).status).toBe(200);
    await waitUntil(async () => (await callApi<{ bans: Ban[] }>(two.url, 'GET', '/api/bans')).body.bans.length === 0, 'the lift on the other server');
    const back = await connectSio(two.url, { auth: { name: 'troll' }, room: 'alpha' });
    expect(await back.chat('back')).toMatchObject({ ok: true });
  });
});
