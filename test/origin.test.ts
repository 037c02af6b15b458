import { httpGet, upgradeStatus } from './support/http-upgrade';
import { connectRaw } from './support/raw-client';
import { connectSio } from './support/sio-client';
import { startTestServer } from './support/server';

const FOREIGN = { Origin: 'https://evil.example' };
const SIO_WS = '/socket.io/?EIO=4&transport=websocket';
const SIO_POLL = '/socket.io/?EIO=4&transport=polling';

describe('origin policy', () => {
  it('refuses a raw upgrade from a foreign origin with 403, and nobody joins', async () => {
    const server = await startTestServer();
    const observer = await connectSio(server.url);
    await observer.notices.next();

    expect(await upgradeStatus(server.url, '/socket', FOREIGN)).toBe(403);
    await expect(connectRaw(server.url, {}, FOREIGN)).rejects.toThrow('HTTP 403');
    // A welcome client after the refused ones: a join of theirs would be announced before its own.
    await connectRaw(server.url, { name: 'welcome' });
    await observer.notices.expectNothingBefore((n) => n.kind === 'join' && n.name === 'welcome', "welcome's join");
  });

  it('refuses a Socket.IO WebSocket handshake from a foreign origin with 403', async () => {
    const server = await startTestServer();
    expect(await upgradeStatus(server.url, SIO_WS, FOREIGN)).toBe(403);
    await expect(connectSio(server.url, { extraHeaders: FOREIGN })).rejects.toThrow('websocket error: HTTP 403');
  });

  it('refuses a Socket.IO long-polling handshake from a foreign origin with 403', async () => {
    const server = await startTestServer();
    expect((await httpGet(`${server.url}${SIO_POLL}`, FOREIGN)).status).toBe(403);
    await expect(connectSio(server.url, { transports: ['polling'], extraHeaders: FOREIGN })).rejects.toThrow('xhr poll error: HTTP 403');
  });

  it('accepts the same origin as the Host header, and clients that send no Origin', async () => {
    const server = await startTestServer();
    const own = { Origin: server.url };
    expect(await upgradeStatus(server.url, '/socket', own)).toBe(101);
    expect(await upgradeStatus(server.url, SIO_WS, own)).toBe(101);
    expect((await httpGet(`${server.url}${SIO_POLL}`, own)).status).toBe(200);
    expect(await upgradeStatus(server.url, '/socket')).toBe(101);
  });

  it('refuses an Origin of "null" (sandboxed frames, file:// pages)', async () => {
    const server = await startTestServer();
    expect(await upgradeStatus(server.url, '/socket', { Origin: 'null' })).toBe(403);
  });

  it('accepts the origins ALLOWED_ORIGINS lists and still refuses the rest', async () => {
    const server = await startTestServer({ ALLOWED_ORIGINS: 'https://chat.example, http://localhost:3000' });
    for (const origin of ['https://chat.example', 'http://localhost:3000']) {
      expect(await upgradeStatus(server.url, '/socket', { Origin: origin })).toBe(101);
      expect(await upgradeStatus(server.url, SIO_WS, { Origin: origin })).toBe(101);
      const poll = await httpGet(`${server.url}${SIO_POLL}`, { Origin: origin });
      expect(poll.status).toBe(200);
    }
    expect(await upgradeStatus(server.url, '/socket', FOREIGN)).toBe(403);
    expect(await upgradeStatus(server.url, '/socket', { Origin: 'http://localhost:3001' })).toBe(403);
  });

  it('accepts any origin with ALLOWED_ORIGINS=*', async () => {
    const server = await startTestServer({ ALLOWED_ORIGINS: '*' });
    expect(await upgradeStatus(server.url, '/socket', FOREIGN)).toBe(101);
    expect(await upgradeStatus(server.url, SIO_WS, FOREIGN)).toBe(101);
  });
});

describe('upgrade routing', () => {
  it('answers an upgrade to an unknown path with 404', async () => {
    const server = await startTestServer();
    expect(await upgradeStatus(server.url, '/elsewhere')).toBe(404);
    expect(await upgradeStatus(server.url, '/socketx')).toBe(404);
    // Below /socket/ is a room: a malformed room name is a bad request, not an unknown path.
    expect(await upgradeStatus(server.url, '/socket/extra/more')).toBe(400);
  });

  it('upgrades Socket.IO WebSockets next to /socket, query strings and all', async () => {
    const server = await startTestServer();
    const raw = await connectRaw(server.url, { name: 'r', format: 'text' });
    const sio = await connectSio(server.url, { transports: ['websocket'] });
    expect(sio.socket.io.engine.transport.name).toBe('websocket');
    expect(await raw.messages.take(2)).toHaveLength(2);
  });

  it('lets a long-polling Socket.IO client upgrade to WebSocket', async () => {
    const server = await startTestServer();
    const sio = await connectSio(server.url, { transports: ['polling', 'websocket'] });
    await new Promise<void>((resolve) => {
      if (sio.socket.io.engine.transport.name === 'websocket') resolve();
      else sio.socket.io.engine.once('upgrade', () => resolve());
    });
    expect(sio.socket.io.engine.transport.name).toBe('websocket');
    expect(await sio.chat('after the upgrade')).toMatchObject({ ok: true });
  });
});
