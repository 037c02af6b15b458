import { connectRaw } from './support/raw-client';
import { connectSio } from './support/sio-client';
import { spawnServer } from './support/spawn-server';

// A process start (spawnServer allows it 15 s: tsx compiles the server) plus the 5 s
// shutdown grace already fill jest's default 20 s; on a busy machine that would end as
// an anonymous timeout instead of the step that was slow.
jest.setTimeout(45_000);

describe.each(['SIGTERM', 'SIGINT'] as const)('the real entry point on %s', (signal) => {
  it('sends what was acked, closes raw clients with 1012, drops Socket.IO clients so they reconnect, exits 0', async () => {
    const server = await spawnServer();
    const raw = await connectRaw(server.url);
    const json = await connectRaw(server.url, { format: 'json' });
    const sio = await connectSio(server.url, { auth: { name: 'alice' } });
    await raw.messages.take(3);
    await json.messages.take(2);

    const ack = await sio.chat('last words');
    expect(ack).toMatchObject({ ok: true });
    const sioGone = new Promise<string>((resolve) => sio.socket.once('disconnect', resolve));
    const started = Date.now();
    server.child.kill(signal);

    expect(await raw.messages.next()).toBe('last words');
    expect(await raw.closed).toEqual({ code: 1012, reason: 'Server shutting down' });
    expect(await json.nextJson()).toMatchObject({ type: 'chat', text: 'last words' });
    expect((await json.closed).code).toBe(1012);
    // "io server disconnect" would tell the client not to reconnect; this reason makes it
    // retry, against another node or this one once it is back.
    expect(await sioGone).toBe('transport close');

    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(server.lines.some((line) => line.includes('"msg":"closed"'))).toBe(true);
  });
});

describe('shutdown', () => {
  it('exits 0 even when a raw client never answers the close handshake', async () => {
    const server = await spawnServer();
    const raw = await connectRaw(server.url);
    await raw.messages.next();
    // Stop reading: the close frame is never answered, so the server must cut it.
    raw.ws.pause();
    const started = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
