import { startNodes } from './support/nodes';
import { connectRaw } from './support/raw-client';
import { describeWithRedis, startRedis } from './support/redis';
import { connectSio } from './support/sio-client';
import { spawnServer } from './support/spawn-server';
import { waitUntil } from './support/wait';

// A process start (up to 15 s with tsx), the drain and the grace after it.
jest.setTimeout(45_000);

const DRAIN_MS = 2_000;
const EACH_KIND = 8;

describe('drain on SIGTERM', () => {
  it('stops accepting, then ends its clients one by one over DRAIN_MS (raw 1012, Socket.IO transport close), and exits 0', async () => {
    const server = await spawnServer({ DRAIN_MS: String(DRAIN_MS) });
    const raws = await Promise.all(Array.from({ length: EACH_KIND }, () => connectRaw(server.url, { format: 'json' })));
    const sios = await Promise.all(Array.from({ length: EACH_KIND }, (_, i) => connectSio(server.url, { auth: { name: `sio-${i}` } })));

    const closes: { at: number; how: string }[] = [];
    const ended = [
      ...raws.map((raw) => raw.closed.then(({ code }) => closes.push({ at: Date.now(), how: `raw ${code}` }))),
      ...sios.map(
        (sio) =>
          new Promise<void>((resolve) =>
            sio.socket.once('disconnect', (reason) => {
              closes.push({ at: Date.now(), how: `socket.io ${reason}` });
              resolve();
            }),
          ),
      ),
    ];
    const firstEnded = Promise.race(ended);
    server.child.kill('SIGTERM');

    // Once the drain has begun, nobody new gets in: the port no longer accepts.
    await firstEnded;
    await expect(connectRaw(server.url)).rejects.toThrow(/ECONNREFUSED/);

    await Promise.all(ended);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(closes.filter(({ how }) => how === 'raw 1012')).toHaveLength(EACH_KIND);
    // "io server disconnect" would tell a client not to come back; this one reconnects.
    expect(closes.filter(({ how }) => how === 'socket.io transport close')).toHaveLength(EACH_KIND);

    // Spread over the window (16 clients: one every 125 ms), not all in one instant.
    // Timers may fire late on a busy machine, which moves closes later, never earlier.
    const times = closes.map(({ at }) => at).sort((a, b) => a - b);
    const first = times[0] as number;
    expect((times.at(-1) as number) - first).toBeGreaterThanOrEqual(DRAIN_MS / 2);
    expect((times[times.length / 2] as number) - first).toBeGreaterThanOrEqual(DRAIN_MS / 4);
  });
});

describeWithRedis('drain on SIGTERM, one node of several', () => {
  it('tells the other nodes that each client left once it has, not when the drain begins', async () => {
    const redis = await startRedis();
    // Snapshots every 500 ms: the other nodes learn of each departure within that.
    const [a, b] = await startNodes(2, { REDIS_URL: redis.url, DRAIN_MS: String(DRAIN_MS), HEARTBEAT_MS: '1500' });
    const watcher = await connectRaw(b!.url, { name: 'watcher', format: 'json' });
    const names = ['d0', 'd1', 'd2', 'd3'];
    const drained = await Promise.all(names.map((name) => connectRaw(a!.url, { name, format: 'json' })));
    // What the test sees, in the order it sees it: each drained client's close, and each leave the watcher is told of.
    const seen: string[] = [];
    drained.forEach((client, i) => client.ws.once('close', () => seen.push(`closed ${names[i]}`)));
    watcher.ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { kind?: string; name?: string };
      if (frame.kind === 'leave' && names.includes(frame.name ?? '')) seen.push(`left ${frame.name}`);
    });
    for (const name of names) await waitUntil(() => watcher.messages.pending.some((m) => m.includes(`"join"`) && m.includes(`"${name}"`)), `the watcher to see ${name} join`);

    a!.child.kill('SIGTERM');
    await waitUntil(() => names.every((name) => seen.includes(`left ${name}`)), 'the watcher to be told every drained client left');
    for (const name of names) expect(seen.indexOf(`closed ${name}`)).toBeLessThan(seen.indexOf(`left ${name}`));
  });
});
