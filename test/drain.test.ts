import { connectRaw } from './support/raw-client';
import { connectSio } from './support/sio-client';
import { spawnServer } from './support/spawn-server';

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
