import { presenceAt, startNodes } from './support/nodes';
import { connectRaw } from './support/raw-client';
import { connectRedisClient, describeWithRedis, startRedis } from './support/redis';
import { connectSio } from './support/sio-client';
import { waitUntil } from './support/wait';

jest.setTimeout(90_000);

describeWithRedis('per-room subscriptions on Redis', () => {
  it('a node hears the messages of a room once it holds it, not before, and the room works across nodes as before', async () => {
    const redis = await startRedis();
    const [a, b] = await startNodes(2, { REDIS_URL: redis.url, RATE_LIMIT: '0' });
    const watcher = await connectRedisClient(redis.url);
    const subscribers = async (channel: string) => Object.values(await watcher.pubSubNumSub(channel))[0];
    /** How many nodes hear `room`: its bus channel, and its Socket.IO namespace's broadcasts. */
    const listening = async (room: string) => {
      const [bus, socketIo] = [await subscribers(`chat:bus:{${room}}`), await subscribers(`socket.io#{/${room}}#live`)];
      expect(socketIo).toBe(bus);
      return bus;
    };

    const ann = await connectRaw(a!.url, { name: 'ann', format: 'json' }, {}, { room: 'alpha' });
    expect(await ann.nextJson()).toMatchObject({ kind: 'join', name: 'ann' });
    await connectRaw(a!.url, { name: 'cy', format: 'json' }, {}, { room: 'beta' });
    expect(await listening('alpha')).toBe(1);
    expect(await listening('beta')).toBe(1);
    // B holds neither room, yet counts who is in them on A (presence goes to every node).
    await waitUntil(async () => (await presenceAt(b!, 'beta')).online === 1, 'B to count cy in beta');

    // A client on B brings alpha into B's memory: B hears it from then on.
    const bo = await connectRaw(b!.url, { name: 'bo', format: 'json' }, {}, { room: 'alpha' });
    expect(await bo.nextJson()).toMatchObject({ kind: 'join', name: 'bo', online: 2 });
    expect(await ann.nextJson()).toMatchObject({ kind: 'join', name: 'bo', online: 2 });
    expect(await listening('alpha')).toBe(2);
    expect(await listening('beta')).toBe(1);

    const sio = await connectSio(b!.url, { auth: { name: 'di' }, room: 'alpha' });
    ann.send('from A');
    bo.send('from B');
    for (const client of [ann, bo]) {
      const chats = [];
      while (chats.length < 2) {
        const frame = await client.nextJson();
        if (frame.type === 'chat') chats.push(frame.text);
      }
      expect(chats.sort()).toEqual(['from A', 'from B']);
    }
    expect((await sio.chats.take(2)).map((m) => m.text).sort()).toEqual(['from A', 'from B']);
  });
});
