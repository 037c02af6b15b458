import type { RawJsonFrame } from '../server/protocol';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { describeWithRedis, startRedis } from './support/redis';
import { RoomLog } from './support/room-log';
import { waitUntil, within } from './support/wait';
import { connectSio, type SioTestClient } from './support/sio-client';
import { runMain, spawnServer, type SpawnedServer } from './support/spawn-server';
import { MULTI_PROCESS_START_MS } from './support/nodes';

// A primary and two workers per test, each compiling the server with tsx.
jest.setTimeout(90_000);

/**
 * The pids of the workers that logged a new client, of one transport or any (pino puts
 * the pid in every line).
 */
function workersServing(server: SpawnedServer, transport?: 'raw' | 'socket.io'): Set<number> {
  const pids = new Set<number>();
  for (const line of server.lines) {
    const entry = JSON.parse(line) as { msg?: string; pid?: number; transport?: string };
    if (entry.msg !== 'connection open' || entry.pid === undefined) continue;
    if (transport === undefined || entry.transport === transport) pids.add(entry.pid);
  }
  return pids;
}

/**
 * Connects clients of every kind until both workers serve some, checks that each
 * message reaches every client whatever worker it is on, and that `online` counts all.
 */
async function checkOneRoom(server: SpawnedServer, room?: string): Promise<void> {
  const raws: RawTestClient[] = [];
  const sios: SioTestClient[] = [];
  const inRoom = room === undefined ? {} : { room };
  for (let i = 0; i < 3; i += 1) {
    raws.push(await within(connectRaw(server.url, { name: `raw${i}`, format: 'json' }, {}, inRoom), `raw client ${i} connects`));
    sios.push(await within(connectSio(server.url, { auth: { name: `sio${i}` }, ...inRoom }), `Socket.IO client ${i} connects`));
  }
  sios.push(
    await within(connectSio(server.url, { auth: { name: 'polling' }, transports: ['polling'], ...inRoom }), 'long-polling client connects'),
  );
  await waitUntil(() => workersServing(server).size === 2, 'clients on both workers');
  const logs = [...raws.map((c) => RoomLog.ofRaw(c)), ...sios.map((c) => RoomLog.ofSio(c))];

  // Every client says hello, then a marker: a duplicate of a hello would arrive before
  // the marker its sender sent after it.
  for (const text of ['hello', 'marker']) {
    for (const raw of raws) raw.send(text);
    for (const sio of sios) await within(sio.chat(text), `ack for ${sio.socket.id ?? 'a Socket.IO client'}`);
  }
  const senders = raws.length + sios.length;
  const chats = (log: RoomLog) => log.entries.flatMap((e) => (e.type === 'chat' ? [e.text] : []));
  await waitUntil(() => logs.every((log) => chats(log).filter((text) => text === 'marker').length === senders), 'every marker on every client');
  for (const log of logs) expect(chats(log).filter((text) => text === 'hello')).toHaveLength(senders);

  const newcomer = await within(connectRaw(server.url, { format: 'json' }, {}, inRoom), 'the newcomer connects');
  const ownJoin = (await within(newcomer.nextJson(), "the newcomer's own join")) as RawJsonFrame;
  expect(ownJoin).toMatchObject({ type: 'notice', kind: 'join', online: raws.length + sios.length + 1 });
}

describe('WORKERS=2 on one port', () => {
  it('puts raw and Socket.IO clients (WebSocket and long-polling) of both workers in one room', async () => {
    const server = await spawnServer({ WORKERS: '2', RATE_LIMIT: '0' }, MULTI_PROCESS_START_MS);
    await checkOneRoom(server);
  });

  it('does the same in any other room', async () => {
    const server = await spawnServer({ WORKERS: '2', RATE_LIMIT: '0' }, MULTI_PROCESS_START_MS);
    await checkOneRoom(server, 'alpha');
  });

  it('spreads raw clients over the workers, not only Socket.IO sessions', async () => {
    const server = await spawnServer({ WORKERS: '2' }, MULTI_PROCESS_START_MS);
    for (let i = 0; i < 4; i += 1) await within(connectRaw(server.url, { name: `raw${i}` }), `raw client ${i} connects`);
    await waitUntil(() => server.lines.filter((line) => line.includes('"connection open"')).length === 4, 'four connections logged');
    expect(workersServing(server, 'raw').size).toBe(2);
  });

  // Each room is a Socket.IO namespace with an adapter of its own in every worker: one
  // listener per room on the channel between workers would run for every message, and
  // Node warns of a leak past ten.
  it('serves many rooms across the workers without a listener per room', async () => {
    const server = await spawnServer({ WORKERS: '2', RATE_LIMIT: '0' }, MULTI_PROCESS_START_MS);
    for (let i = 0; i < 24; i += 1) await within(connectSio(server.url, { auth: { name: `in-${i}` }, room: `room-${i}` }), `a client in room-${i}`);
    await checkOneRoom(server, 'room-24');
    expect(server.stderr()).not.toContain('MaxListenersExceededWarning');
  });

  it('stops the workers and exits 0 on SIGTERM', async () => {
    const server = await spawnServer({ WORKERS: '2' }, MULTI_PROCESS_START_MS);
    await within(connectRaw(server.url), 'a raw client connects');
    server.child.kill('SIGTERM');
    expect(await within(server.exited, 'the primary exits after SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('exits 1, naming the cause, when the workers cannot start (here: no Redis answers)', async () => {
    const run = runMain({ PORT: '0', HOST: '127.0.0.1', WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:1' });
    // Three processes compile with tsx and each worker waits out Redis's 5 s start timeout.
    expect((await within(run.exited, 'the primary exits', MULTI_PROCESS_START_MS)).code).toBe(1);
    expect(run.stderr()).toContain('redis at 127.0.0.1:1 did not answer');
    expect(run.stderr()).toContain('exited with code 1 while starting');
  });
});

describeWithRedis('WORKERS=2 with Redis', () => {
  it('puts the clients of both workers in one room through Redis', async () => {
    const redis = await startRedis();
    const server = await spawnServer({ WORKERS: '2', RATE_LIMIT: '0', REDIS_URL: redis.url }, MULTI_PROCESS_START_MS);
    await checkOneRoom(server);
  });

  it('does the same in any other room', async () => {
    const redis = await startRedis();
    const server = await spawnServer({ WORKERS: '2', RATE_LIMIT: '0', REDIS_URL: redis.url }, MULTI_PROCESS_START_MS);
    await checkOneRoom(server, 'alpha');
  });
});
