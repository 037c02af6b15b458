/**
 * What the store keeps, proved with real servers and clients: a room listing that is
 * paged, whichever store holds the rooms.
 */
import { redisCommand } from '../tools/redis-process';
import { API_TEST_KEY, callApi, postMessage } from './support/api';
import { describeWithRedis, startRedis } from './support/redis';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

interface RoomList {
  rooms: { name: string; online: number; lastMessageAt: number | null }[];
  next: string | null;
}

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

describeWithRedis('stored history in Redis: the room listing', () => {
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
