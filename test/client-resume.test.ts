import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { WebSocketServer } from 'ws';
import { HISTORY_INCOMPLETE_TEXT, SOCKET_IO_PATH } from '../server/protocol';
import { nodeConnectors } from '../client/connect';
import { Backoff } from '../client/shared/backoff';
import { ChatSession, RequestFailure, type RawFormat, type SessionStatus } from '../client/shared/session';
import { onCleanup } from './support/cleanup';
import { EventQueue } from './support/event-queue';
import { JOIN } from './support/seed-strings';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';
import { startRawSession, type RawSessionProbe } from './support/raw-session';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { waitUntil } from './support/wait';

/** A raw session that always reconnects, in short steps: the test holds the reconnection at the proxy, not in the backoff. */
const rawSession = (url: string, name: string, rawFormat: RawFormat) => startRawSession(url, name, { rawFormat, retry: 'always', backoff: new Backoff(10, 100) });

type Reader = RawSessionProbe;

/** The next status of `reader` in `state`, skipping the others. */
async function nextStatus(reader: Reader, state: SessionStatus['state']): Promise<SessionStatus> {
  for (;;) {
    const status = await reader.statuses.next();
    if (status.state === state) return status;
  }
}

/**
 * Cuts the reader's connection at the proxy and holds its next one there, so that what
 * the room says meanwhile is said while the reader is away.
 */
async function dropAndHold(proxy: TcpProxy, reader: Reader): Promise<void> {
  proxy.hold();
  proxy.cut();
  expect(await nextStatus(reader, 'reconnecting')).toMatchObject({ reason: 'the connection dropped' });
  await waitUntil(() => proxy.held === 1, 'the reader to try again');
}

/** A chat server, a proxy in front of it, and one Socket.IO poster straight to the server. */
async function roomWithProxy(env: Record<string, string> = {}) {
  const server = await startTestServer(env);
  const proxy = await startTcpProxy(server.port);
  const poster = await connectSio(server.url, { auth: { name: 'sio-poster' } });
  return { server, proxy, poster };
}

describe('a raw JSON session that loses its connection', () => {
  it('hands on every message it missed exactly once, in order, then live ones', async () => {
    const { server, proxy, poster } = await roomWithProxy();
    const rawPoster = rawSession(server.url, 'raw-poster', 'json');
    await rawPoster.notices.next();
    const reader = rawSession(proxy.url, 'reader', 'json');
    expect(await reader.notices.next()).toMatchObject({ kind: 'join', name: 'reader' });

    await poster.chat('before the drop');
    expect((await reader.chats.next()).text).toBe('before the drop');
    await poster.chats.next();

    await dropAndHold(proxy, reader);
    await Promise.all([
      ...['sio 1', 'sio 2', 'sio 3'].map((text) => poster.chat(text)),
      ...['raw 1', 'raw 2', 'raw 3'].map((text) => rawPoster.session.send(text)),
    ]);
    // The room's order, as a client that stayed saw it.
    const missed = (await poster.chats.take(6)).map((m) => m.id);
    proxy.release();

    expect((await reader.chats.take(6)).map((m) => m.id)).toEqual(missed);
    await poster.chat('after the drop');
    await reader.chats.expectNothingBefore((m) => m.text === 'after the drop', 'the first live message');
    expect(reader.frames.pending).toEqual([]);
  });

  it('says so when the server no longer has where it left off, then goes on live', async () => {
    const { proxy, poster } = await roomWithProxy({ HISTORY_SIZE: '2', HISTORY_KEEP: '2' });
    const reader = rawSession(proxy.url, 'reader', 'json');
    await reader.notices.next();
    await poster.chat('before the drop');
    expect((await reader.chats.next()).text).toBe('before the drop');

    await dropAndHold(proxy, reader);
    // Three more push the reader's last message out of the two the room keeps.
    for (const text of ['gone 1', 'gone 2', 'gone 3']) await poster.chat(text);
    proxy.release();

    expect(await reader.frames.next()).toBe(HISTORY_INCOMPLETE_TEXT);
    expect(await reader.notices.next()).toMatchObject({ kind: 'join', name: 'reader' });
    await poster.chat('after the drop');
    await reader.chats.expectNothingBefore((m) => m.text === 'after the drop', 'the first live message');
  });
});

describe('a raw text (seed) session that loses its connection', () => {
  it('comes back to live traffic, with no resume to ask for', async () => {
    const { proxy, poster } = await roomWithProxy();
    const reader = rawSession(proxy.url, 'reader', 'text');
    expect(await reader.frames.next()).toBe(JOIN);

    await dropAndHold(proxy, reader);
    await poster.chat('missed');
    proxy.release();

    // A `since` here would be refused (HTTP 400) and the session would never get back in.
    expect(await reader.frames.next()).toBe(JOIN);
    await poster.chat('live');
    expect(await reader.frames.next()).toBe('live');
  });
});

describe('a raw session whose server is restarting', () => {
  it('says so, and tries again', async () => {
    // A stand-in for a draining node: it lets the client in, then closes with 1012.
    const restarting = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    onCleanup('servers', () => new Promise((resolve) => restarting.close(resolve)));
    await new Promise((resolve) => restarting.once('listening', resolve));
    restarting.on('connection', (ws) => ws.close(1012));
    const reader = rawSession(`http://127.0.0.1:${(restarting.address() as AddressInfo).port}`, 'reader', 'json');

    expect(await nextStatus(reader, 'reconnecting')).toMatchObject({ reason: 'the server is restarting' });
    expect(await nextStatus(reader, 'connecting')).toMatchObject({ attempt: 1 });
  });
});

describe('a Socket.IO session whose connection ends before its chat is answered', () => {
  it('is told the chat was lost, as a raw session is, instead of waiting for ever', async () => {
    // A stand-in for a node drained right after it took a chat: it never answers it.
    const http = createServer();
    const io = new Server(http, { path: SOCKET_IO_PATH });
    onCleanup('servers', () => io.close());
    io.on('connection', (socket) => socket.on('chat', () => socket.conn.close()));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const session = new ChatSession({
      url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
      transport: 'socket.io',
      name: 'sender',
      retry: 'never',
      connectors: nodeConnectors,
      handlers: { status: (status) => statuses.push(status), chat: () => {}, notice: () => {}, history: () => {}, presence: () => {}, typing: () => {}, seedFrame: () => {} },
    });
    const statuses = new EventQueue<SessionStatus>('sender statuses');
    session.start();
    onCleanup('clients', () => session.close());
    while ((await statuses.next()).state !== 'connected');
    await expect(session.send('caught by the drain')).rejects.toThrow(RequestFailure.Lost);
  });
});
