/**
 * What the store keeps on disk has bounds, proved with real servers and clients on a
 * real DATA_DIR: HISTORY_KEEP per room after every commit (and across restarts),
 * MAX_STORED_ROOMS and MAX_STORED_BYTES over all rooms, a room listing that is paged, and
 * a start-up that does not depend on how many rooms are stored.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatMessage } from '../server/protocol';
import { compareIds } from '../server/store/message-id';
import { DATABASE_FILE } from '../server/store/sqlite-store';
import { redisCommand } from '../tools/redis-process';
import { API_TEST_KEY, callApi, postMessage } from './support/api';
import { readDatabase, SCHEMA_0 } from './support/database-file';
import { freshDataDir } from './support/data-dir';
import { describeWithRedis, startRedis } from './support/redis';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';
import { spawnServer } from './support/spawn-server';
import { sioSend, stop } from './support/stored-chat';

// Servers started and stopped two or three times, and megabytes written through them.
jest.setTimeout(90_000);

interface RoomList {
  rooms: { name: string; online: number; lastMessageAt: number | null }[];
  next: string | null;
}

interface MessagePage {
  messages: ChatMessage[];
  complete: boolean;
  more: boolean;
}

/** Sends `count` messages at once (so that several share a commit); resolves with their ids once all are acked, in order. */
function sendBurst(client: SioTestClient, count: number, label: string, text = ''): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => sioSend(client, `${label} ${i} ${text}`)));
}

/** The ids of a room's stored rows, oldest first. */
const storedIds = (dataDir: string, room: string): string[] =>
  readDatabase(dataDir, (db) => db.prepare("SELECT ms || '-' || seq FROM messages WHERE room = ? ORDER BY ms, seq").pluck().all(room) as string[]);

/** The rooms that have rows in `messages`, by name. */
const roomsWithRows = (dataDir: string): string[] =>
  readDatabase(dataDir, (db) => db.prepare('SELECT DISTINCT room FROM messages ORDER BY room').pluck().all() as string[]);

/** Every room name of the listing, walked page by page with `?limit=`; checks each page's size and cursor. */
async function walkRooms(url: string, limit: number): Promise<RoomList['rooms']> {
  const seen: RoomList['rooms'] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 10_000; pages += 1) {
    const query: string = `?limit=${limit}${after === null ? '' : `&after=${after}`}`;
    const page = await callApi<RoomList>(url, 'GET', `/api/rooms${query}`);
    expect(page.status).toBe(200);
    expect(page.body.rooms.length).toBeLessThanOrEqual(limit);
    seen.push(...page.body.rooms);
    if (page.body.next === null) return seen;
    expect(page.body.next).toBe(page.body.rooms.at(-1)?.name);
    after = page.body.next;
  }
  throw new Error('the listing never ended');
}

describe('stored history: per room', () => {
  // Attack simulated: a room flooded (or just busy) for long: it must hold no more than
  // HISTORY_KEEP rows at any moment, whichever process wrote them and however often it restarted.
  it('keeps exactly HISTORY_KEEP messages of a room after every commit, and after a restart', async () => {
    const dataDir = freshDataDir();
    const env = { DATA_DIR: dataDir, HISTORY_KEEP: '100', RATE_LIMIT: '0', API_KEY: API_TEST_KEY };
    const first = await spawnServer(env);
    const sio = await connectSio(first.url, { room: 'alpha' });
    const acked: string[] = [];
    for (let burst = 0; burst < 10; burst += 1) {
      acked.push(...(await sendBurst(sio, 25, `first run ${burst}`)));
      const page = await callApi<MessagePage>(first.url, 'GET', '/api/rooms/alpha/messages?limit=1000');
      expect(page.body.messages.map((m) => m.id)).toEqual(acked.slice(-100));
    }
    await stop(first);
    expect(storedIds(dataDir, 'alpha')).toEqual(acked.slice(-100));

    // A few messages after a restart: fewer than any batch of trimming would wait for.
    const second = await spawnServer(env);
    acked.push(...(await sendBurst(await connectSio(second.url, { room: 'alpha' }), 30, 'second run')));
    await stop(second);
    expect(storedIds(dataDir, 'alpha')).toEqual(acked.slice(-100));
  });
});

describe('stored history: over all rooms', () => {
  // Attack simulated: anonymous loops creating rooms, each with one message, for ever.
  it('keeps at most MAX_STORED_ROOMS rooms: the ones idle longest go, whole', async () => {
    const dataDir = freshDataDir();
    const server = await startTestServer({ DATA_DIR: dataDir, MAX_STORED_ROOMS: '5', API_KEY: API_TEST_KEY, API_RATE_LIMIT: '0' });
    // room-0 is written again after room-4: room-1 is then the one idle longest.
    for (const room of ['room-0', 'room-1', 'room-2', 'room-3', 'room-4', 'room-0', 'room-5', 'room-6', 'room-7']) {
      expect((await postMessage(server.url, room, { text: `to ${room}` })).status).toBe(201);
    }
    const kept = ['room-0', 'room-4', 'room-5', 'room-6', 'room-7'];
    expect((await walkRooms(server.url, 100)).map((room) => room.name)).toEqual(kept);
    expect((await callApi<MessagePage>(server.url, 'GET', '/api/rooms/room-1/messages')).body).toEqual({ messages: [], complete: true, more: false });
    const room0 = await callApi<MessagePage>(server.url, 'GET', '/api/rooms/room-0/messages');
    expect(room0.body.messages.map((m) => m.text)).toEqual(['to room-0', 'to room-0']);
    await server.close();
    expect(roomsWithRows(dataDir)).toEqual(kept);
  });

  // Attack simulated: connections under flood control writing large messages to many
  // rooms: the file must stop growing once MAX_STORED_BYTES is stored.
  it('stops the database growing past MAX_STORED_BYTES under a sustained writer', async () => {
    const dataDir = freshDataDir();
    const bound = 1024 * 1024;
    const env = { DATA_DIR: dataDir, MAX_STORED_BYTES: String(bound), RATE_LIMIT: '0', HISTORY_SIZE: '0' };
    const text = 'x'.repeat(4000);
    /** Four writers in four rooms, 10 MB in all; resolves with each room's acked ids. */
    const write = async (url: string, run: string): Promise<string[][]> => {
      const writers = await Promise.all([0, 1, 2, 3].map((i) => connectSio(url, { room: `writer-${i}` })));
      const acked: string[][] = writers.map(() => []);
      for (let round = 0; round < 32; round += 1) {
        const ids = await Promise.all(writers.map((w, i) => sendBurst(w, 20, `${run} ${round} ${i}`, text)));
        ids.forEach((roomIds, i) => acked[i]?.push(...roomIds));
      }
      return acked;
    };
    const databaseBytes = () => statSync(join(dataDir, DATABASE_FILE)).size;
    const storedText = () => readDatabase(dataDir, (db) => db.prepare('SELECT sum(length(text)) FROM messages').pluck().get() as number);

    const first = await spawnServer(env);
    const firstIds = await write(first.url, 'first');
    await stop(first);
    const afterFirst = databaseBytes();
    expect(storedText()).toBeLessThanOrEqual(bound);
    // Rooms go whole, the idlest first, so what stays may be well under the bound (two
    // rooms gone in quick succession leave less than half): never nothing.
    expect(storedText()).toBeGreaterThan(0);
    expect(afterFirst).toBeLessThan(3 * bound);
    // What went was the oldest: each room holds a run of its newest messages, or nothing
    // when it went whole, as the room idle longest.
    for (const [i, ids] of firstIds.entries()) {
      const kept = storedIds(dataDir, `writer-${i}`);
      expect(kept).toEqual(ids.slice(ids.length - kept.length));
    }

    const second = await spawnServer(env);
    await write(second.url, 'second');
    await stop(second);
    expect(storedText()).toBeLessThanOrEqual(bound);
    // Another 10 MB written: the file reuses the pages the oldest messages left. A bound is
    // applied as each commit ends, so the file may have grown by what one commit holds
    // beyond the largest of the first run: at most a burst of each writer.
    expect(databaseBytes()).toBeLessThanOrEqual(afterFirst + 4 * 20 * 4096);
  });

  // A single busy room alone is over the byte bound: its own oldest messages go.
  it('trims one room alone over MAX_STORED_BYTES from its oldest messages, keeping the newest', async () => {
    const dataDir = freshDataDir();
    const bound = 512 * 1024;
    const server = await startTestServer({ DATA_DIR: dataDir, MAX_STORED_BYTES: String(bound), RATE_LIMIT: '0', HISTORY_SIZE: '0' });
    const sio = await connectSio(server.url, { room: 'solo' });
    const acked: string[] = [];
    for (let round = 0; round < 10; round += 1) acked.push(...(await sendBurst(sio, 40, `round ${round}`, 'y'.repeat(4000))));
    await server.close();
    const kept = storedIds(dataDir, 'solo');
    expect(readDatabase(dataDir, (db) => db.prepare('SELECT sum(length(text)) FROM messages').pluck().get())).toBeLessThanOrEqual(bound);
    // About 128 of the 400 fit: the newest ones, in order.
    expect(kept.length).toBeGreaterThan(100);
    expect(kept).toEqual(acked.slice(-kept.length));
  });
});

describe('stored history: the room listing', () => {
  it.each([['SQLite', undefined], ['memory', ':memory:']])(
    'pages /api/rooms (%s store): every room once, by name, with a cursor',
    async (_kind, dataDir) => {
      const server = await startTestServer({ API_KEY: API_TEST_KEY, API_RATE_LIMIT: '0', ...(dataDir === undefined ? {} : { DATA_DIR: dataDir }) });
      const names = Array.from({ length: 230 }, (_, i) => `room-${String(i).padStart(3, '0')}`);
      for (const room of names) expect((await postMessage(server.url, room, { text: `in ${room}` })).status).toBe(201);
      // A room with a client and nothing stored is listed too, in its place by name.
      await connectSio(server.url, { room: 'room-100a' });

      const expected = [...names.slice(0, 101), 'room-100a', ...names.slice(101)];
      const walked = await walkRooms(server.url, 7);
      expect(walked.map((room) => room.name)).toEqual(expected);
      expect(walked.find((room) => room.name === 'room-100a')).toEqual({ name: 'room-100a', online: 1, lastMessageAt: null });

      const first = await callApi<RoomList>(server.url, 'GET', '/api/rooms');
      expect(first.body.rooms.map((room) => room.name)).toEqual(expected.slice(0, 100));
      expect(first.body.next).toBe('room-099');
      const all = await callApi<RoomList>(server.url, 'GET', '/api/rooms?limit=1000');
      expect([all.body.rooms.length, all.body.next]).toEqual([231, null]);
      const tail = await callApi<RoomList>(server.url, 'GET', '/api/rooms?after=room-228');
      expect([tail.body.rooms.map((room) => room.name), tail.body.next]).toEqual([['room-229'], null]);

      for (const query of ['limit=0', 'limit=1001', 'limit=x']) {
        expect(await callApi(server.url, 'GET', `/api/rooms?${query}`)).toMatchObject({ status: 400, body: { error: 'invalid_limit' } });
      }
      for (const query of ['after=', 'after=Room', 'after=a..b', 'after=a&after=b']) {
        expect(await callApi(server.url, 'GET', `/api/rooms?${query}`)).toMatchObject({ status: 400, body: { error: 'invalid_after' } });
      }
    },
  );
});


describe('stored history: many rooms', () => {
  // A store that grew large under an earlier version: it is upgraded once, then starts
  // from what one read finds, whatever the number of rooms.
  it('starts a database of 50000 rooms written before the upgrade, continues its ids, and trims by its filled counts', async () => {
    const dataDir = freshDataDir();
    const now = Date.now();
    // The newest message is in a room in the middle, dated a year ahead (a clock stepped back since).
    const future = now + 365 * 24 * 3600 * 1000;
    const db = new Database(join(dataDir, DATABASE_FILE));
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA_0);
    const insert = db.prepare('INSERT INTO messages (room, ms, seq, name, text, at) VALUES (?, ?, ?, ?, ?, ?)');
    const addRoom = db.prepare('INSERT OR IGNORE INTO rooms (name) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 50_000; i += 1) {
        const room = `room-${String(i).padStart(5, '0')}`;
        const ms = i === 25_000 ? future : now - 100_000 + i;
        insert.run(room, ms, 3, 'old', `message of ${room}`, ms);
        addRoom.run(room);
      }
      // One room over HISTORY_KEEP (100), as the old trimming left them.
      for (let i = 0; i < 150; i += 1) insert.run('big', now - 1000 + i, 0, 'old', `big ${i}`, now - 1000 + i);
      addRoom.run('big');
    })();
    db.close();

    const env = { DATA_DIR: dataDir, HISTORY_KEEP: '100', MAX_STORED_ROOMS: '100000', API_KEY: API_TEST_KEY };
    const first = await spawnServer(env, 30_000);
    const posted = await postMessage(first.url, 'big', { text: 'after the upgrade' });
    expect(posted.status).toBe(201);
    expect(compareIds(posted.body.id, `${future}-3`)).toBeGreaterThan(0);
    const page = await callApi<RoomList>(first.url, 'GET', '/api/rooms?limit=2');
    expect(page.body).toEqual({
      rooms: [
        { name: 'big', online: 0, lastMessageAt: posted.body.at },
        { name: 'room-00000', online: 0, lastMessageAt: now - 100_000 },
      ],
      next: 'room-00000',
    });
    const last = await callApi<RoomList>(first.url, 'GET', '/api/rooms?after=room-49998');
    expect(last.body).toEqual({ rooms: [{ name: 'room-49999', online: 0, lastMessageAt: now - 100_000 + 49_999 }], next: null });
    await stop(first);
    expect(readDatabase(dataDir, (d) => d.pragma('user_version', { simple: true }))).toBeGreaterThanOrEqual(1);
    // `big` held 150 rows; one commit later it holds HISTORY_KEEP, the posted one newest.
    const big = storedIds(dataDir, 'big');
    expect([big.length, big.at(-1)]).toEqual([100, posted.body.id]);

    // Upgraded: started again, the ids still continue after the newest.
    const second = await spawnServer(env, 30_000);
    const again = await postMessage(second.url, 'room-12345', { text: 'after a restart' });
    expect(compareIds(again.body.id, posted.body.id)).toBeGreaterThan(0);
    await stop(second);
    expect(storedIds(dataDir, 'room-12345')).toHaveLength(2);
  });
});

describeWithRedis('stored history in Redis: the room listing and its bound', () => {
  it('pages the rooms and keeps at most MAX_STORED_ROOMS, the ones idle longest going whole', async () => {
    const redis = await startRedis();
    const server = await startTestServer({ REDIS_URL: redis.url, MAX_STORED_ROOMS: '5', API_KEY: API_TEST_KEY, API_RATE_LIMIT: '0' });
    for (const room of ['room-0', 'room-1', 'room-2', 'room-3', 'room-4', 'room-0', 'room-5', 'room-6', 'room-7']) {
      expect((await postMessage(server.url, room, { text: `to ${room}` })).status).toBe(201);
    }
    const kept = ['room-0', 'room-4', 'room-5', 'room-6', 'room-7'];
    expect((await walkRooms(server.url, 2)).map((room) => room.name)).toEqual(kept);
    expect((await callApi<MessagePage>(server.url, 'GET', '/api/rooms/room-1/messages')).body.messages).toEqual([]);
    for (const room of ['room-1', 'room-2', 'room-3']) expect(await redisCommand(redis.port, `EXISTS chat:history:${room}`)).toBe(':0');
    expect(await redisCommand(redis.port, 'EXISTS chat:history:room-0')).toBe(':1');
  });

  it('lists the rooms of a Redis written before the listing by name existed', async () => {
    const redis = await startRedis();
    // What an earlier version left: a room's stream and its time in chat:rooms, nothing else.
    expect(await redisCommand(redis.port, 'XADD chat:history:older 1000-0 name ann text hello at 1000')).toBe('$6');
    expect(await redisCommand(redis.port, 'ZADD chat:rooms 1000 older')).toBe(':1');
    const server = await startTestServer({ REDIS_URL: redis.url, API_KEY: API_TEST_KEY });
    expect((await postMessage(server.url, 'newer', { text: 'hi' })).status).toBe(201);
    const walked = await walkRooms(server.url, 1);
    expect(walked.map((room) => [room.name, room.lastMessageAt === 1000])).toEqual([
      ['newer', false],
      ['older', true],
    ]);
  });
});
