import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { redisCluster, singleRedis } from '../server/cluster/redis-connections';
import { createRoomAdapter } from '../server/cluster/room-adapter';
import { compareIds } from '../server/store/message-id';
import { onCleanup } from './support/cleanup';
import { describeWithRedis, startRedis } from './support/redis';
import { describeWithRedisCluster, startRedisCluster } from './support/redis-cluster';
import { waitUntil } from './support/wait';

/**
 * The room adapter alone, under two plain Socket.IO servers on one Redis (or a Redis
 * Cluster): what it carries between nodes that the chat itself never sends (binary data),
 * live and on recovery, and the order it hands broadcasts to a node's clients in.
 */
async function socketIoNode(url: string, clustered = false, namespaces: string | RegExp = '/room'): Promise<{ io: Server; url: string }> {
  // The connections a node of the chat makes to one Redis, or to a Redis Cluster.
  const redis = (clustered ? redisCluster : singleRedis)(url, pino({ level: 'silent' }));
  await redis.connect();
  const http = createServer();
  const io = new Server(http, { connectionStateRecovery: {} });
  io.adapter(createRoomAdapter(redis.adapter, redis.adapterSubscriber, { sharded: clustered }));
  io.of(namespaces);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  onCleanup('servers', async () => {
    await io.close();
    redis.destroy();
  });
  return { io, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

function client(url: string, namespace = '/room'): Socket {
  // Back at once after a drop (socket.io-client waits about a second): within the stream's length.
  const socket = connect(`${url}${namespace}`, { transports: ['websocket'], reconnectionDelay: 1, randomizationFactor: 0 });
  onCleanup('clients', () => socket.disconnect());
  return socket;
}

const next = (socket: Socket, event: string) => new Promise<unknown[]>((resolve) => socket.once(event, (...args: unknown[]) => resolve(args)));

describeWithRedis('the room adapter', () => {
  it('carries binary data to the other node, live and to a client that recovers there', async () => {
    const redis = await startRedis();
    const [a, b] = [await socketIoNode(redis.url), await socketIoNode(redis.url)];
    const listener = client(b.url);
    await next(listener, 'connect');
    // B hears A's broadcasts once A counts two servers on the namespace's channel.
    await waitUntil(async () => (await a.io.of('/room').adapter.serverCount()) === 2, 'both servers on the namespace’s channel');

    const live = next(listener, 'bytes');
    a.io.of('/room').emit('bytes', Buffer.from([0, 255, 65]), { nested: [Buffer.from('x')] });
    const [bytes, nested] = await live;
    expect(Buffer.from(bytes as ArrayBuffer)).toEqual(Buffer.from([0, 255, 65]));
    expect(Buffer.from((nested as { nested: ArrayBuffer[] }).nested[0]!).toString()).toBe('x');

    // Dropped, then back on A (where the load balancer sends it): what it missed comes
    // from the namespace's stream.
    (listener.io as unknown as { uri: string }).uri = a.url;
    const reconnected = next(listener, 'connect');
    const dropped = next(listener, 'disconnect');
    listener.io.engine.close();
    await dropped;
    const missed = next(listener, 'bytes');
    a.io.of('/room').emit('bytes', Buffer.from([1, 2, 3]));
    await reconnected;
    expect(listener.recovered).toBe(true);
    expect(Buffer.from((await missed)[0] as ArrayBuffer)).toEqual(Buffer.from([1, 2, 3]));
  });
});

describeWithRedis('the room adapter, recovery on a node new to the namespace', () => {
  it('gives a client that recovers where its namespace is made for it every broadcast sent meanwhile, once', async () => {
    const redis = await startRedis();
    const a = await socketIoNode(redis.url);
    // B makes a namespace when its first client comes, as the chat does for a room: the
    // recovery reads the stream while B starts to hear the namespace's channel.
    const b = await socketIoNode(redis.url, false, /^\/fresh-[0-9]+$/);
    for (let round = 1; round <= 5; round += 1) {
      const namespace = `/fresh-${round}`;
      const emitter = a.io.of(namespace);
      const listener = client(a.url, namespace);
      await next(listener, 'connect');
      const got: number[] = [];
      listener.on('n', (n: number) => got.push(n));
      // A broadcasts without pause, a few per millisecond, from before the drop to after the recovery.
      let sent = 0;
      const emitting = setInterval(() => {
        for (let i = 0; i < 3; i += 1) emitter.emit('n', (sent += 1));
      }, 1);
      onCleanup('clients', () => clearInterval(emitting));
      await waitUntil(() => got.length > 0, 'a first broadcast before the drop');

      (listener.io as unknown as { uri: string }).uri = b.url;
      const reconnected = next(listener, 'connect');
      listener.io.engine.close();
      await reconnected;
      expect(listener.recovered).toBe(true);
      const after = sent;
      await waitUntil(() => got.length > 0 && got[got.length - 1]! > after + 30, 'broadcasts after the recovery');
      clearInterval(emitting);
      const first = got[0]!;
      expect(got).toEqual(Array.from({ length: got.length }, (_, i) => first + i));
      listener.disconnect();
    }
  });
});

/**
 * Both nodes broadcast at once, in bursts, so that their broadcasts reach A interleaved;
 * the client on A must get them in the stream's order.
 */
async function offsetsOnlyGoForward(a: { io: Server; url: string }, b: { io: Server; url: string }): Promise<void> {
  const listener = client(a.url);
  await next(listener, 'connect');
  await waitUntil(async () => (await b.io.of('/room').adapter.serverCount()) === 2, 'both servers on the namespace’s channel');
  // With connection state recovery each event ends with its offset, the id of its entry in the stream.
  const offsets: string[] = [];
  listener.on('n', (_n: unknown, offset: string) => offsets.push(offset));
  const each = 300;
  for (let burst = 0; burst < each / 10; burst += 1) {
    for (let i = 0; i < 10; i += 1) {
      a.io.of('/room').emit('n', `a${burst * 10 + i}`);
      b.io.of('/room').emit('n', `b${burst * 10 + i}`);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitUntil(() => offsets.length === 2 * each, `all ${2 * each} broadcasts at the client`);
  const backwards = offsets.filter((offset, i) => i > 0 && compareIds(offset, offsets[i - 1]!) <= 0);
  expect(backwards).toEqual([]);
}

describeWithRedis('the room adapter, order', () => {
  it("hands a client its node's broadcasts and the other node's in the order of the namespace's stream, so its offset only goes forward", async () => {
    const redis = await startRedis();
    await offsetsOnlyGoForward(await socketIoNode(redis.url), await socketIoNode(redis.url));
  });
});

describeWithRedisCluster('the room adapter on a Redis Cluster, order', () => {
  it("hands a client its node's broadcasts and the other node's in the order of the namespace's stream (sharded pub/sub)", async () => {
    const cluster = await startRedisCluster();
    await offsetsOnlyGoForward(await socketIoNode(cluster.url, true), await socketIoNode(cluster.url, true));
  });
});
