import type { RawJsonFrame } from '../server/protocol';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { describeWithRedis, startRedis } from './support/redis';
import { eventually, RoomLog } from './support/room-log';
import { connectSio, type SioTestClient } from './support/sio-client';
import { spawnServer, type SpawnedServer } from './support/spawn-server';
import { MULTI_PROCESS_START_MS } from './support/nodes';

// A primary and two workers per test, each compiling the server with tsx.
jest.setTimeout(90_000);

/** The pids of the workers that logged a new client (pino puts the pid in every line). */
function workersServing(server: SpawnedServer): Set<number> {
  const pids = new Set<number>();
  for (const line of server.lines) {
    const entry = JSON.parse(line) as { msg?: string; pid?: number };
    if (entry.msg === 'connection open' && entry.pid !== undefined) pids.add(entry.pid);
  }
  return pids;
}

/**
 * Connects clients of every kind until both workers serve some, checks that each
 * message reaches every client whatever worker it is on, and that `online` counts all.
 */
async function checkOneRoom(server: SpawnedServer): Promise<void> {
  const raws: RawTestClient[] = [];
  const sios: SioTestClient[] = [];
  for (let i = 0; i < 3; i += 1) {
    raws.push(await connectRaw(server.url, { name: `raw${i}`, format: 'json' }));
    sios.push(await connectSio(server.url, { auth: { name: `sio${i}` } }));
  }
  sios.push(await connectSio(server.url, { auth: { name: 'polling' }, transports: ['polling'] }));
  await eventually(() => workersServing(server).size === 2, 'clients on both workers');
  const logs = [...raws.map((c) => RoomLog.ofRaw(c)), ...sios.map((c) => RoomLog.ofSio(c))];

  for (const raw of raws) raw.send('hello from a raw client');
  for (const sio of sios) await sio.chat('hello from Socket.IO');
  await eventually(
    () => logs.every((log) => log.entries.filter((e) => e.type === 'chat').length === raws.length + sios.length),
    'every chat on every client',
  );
  await new Promise((resolve) => setTimeout(resolve, 300)); // room for a duplicate to show up
  for (const log of logs) expect(log.entries.filter((e) => e.type === 'chat')).toHaveLength(raws.length + sios.length);

  const newcomer = await connectRaw(server.url, { format: 'json' });
  const ownJoin = (await newcomer.nextJson()) as RawJsonFrame;
  expect(ownJoin).toMatchObject({ type: 'notice', kind: 'join', online: raws.length + sios.length + 1 });
}

describe('WORKERS=2 on one port', () => {
  it('puts raw and Socket.IO clients (WebSocket and long-polling) of both workers in one room', async () => {
    const server = await spawnServer({ WORKERS: '2', RATE_LIMIT: '0' }, MULTI_PROCESS_START_MS);
    await checkOneRoom(server);
  });

  it('stops the workers and exits 0 on SIGTERM', async () => {
    const server = await spawnServer({ WORKERS: '2' }, MULTI_PROCESS_START_MS);
    await connectRaw(server.url);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});

describeWithRedis('WORKERS=2 with Redis', () => {
  it('puts the clients of both workers in one room through Redis', async () => {
    const redis = await startRedis();
    const server = await spawnServer({ WORKERS: '2', RATE_LIMIT: '0', REDIS_URL: redis.url }, MULTI_PROCESS_START_MS);
    await checkOneRoom(server);
  });
});
