/**
 * The Socket.IO fast path (server/transports/socketio/fast-path.ts): a broadcast to an
 * idle WebSocket client is written straight to its TCP socket; everything else takes
 * engine.io's own path. These tests tell the two paths apart by engine.io's
 * `packetCreate` event, which its path emits for every packet and the fast path never
 * does, and check that what clients see is the same on both.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Socket as EngineConnection } from 'engine.io';
import type { ChatMessage } from '../server/protocol';
import { compareIds } from '../server/store/message-id';
import { checkInternals } from '../server/internals/check';
import { loadConfig } from '../server/config';
import { onCleanup } from './support/cleanup';
import { freshDataDir } from './support/data-dir';
import { clientTextFrame, serverTextFrames, tcpWebSocketPeer } from './support/peers';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';
import { waitUntil } from './support/wait';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** The server side of a connected client: its Engine.IO connection, found by its name. */
function serverConnection(server: Server, name: string): EngineConnection {
  for (const socket of server.io.of('/').sockets.values()) {
    if (socket.data.name === name) return socket.conn as unknown as EngineConnection;
  }
  throw new Error(`no Socket.IO client named ${name}`);
}

/** Chat packets engine.io itself handled for `conn` from now on. */
function enginePackets(conn: EngineConnection): string[] {
  const seen: string[] = [];
  conn.on('packetCreate', (packet: { type: string; data?: unknown }) => {
    if (packet.type === 'message' && typeof packet.data === 'string' && packet.data.includes('"chat"')) seen.push(packet.data);
  });
  return seen;
}

async function joined(client: SioTestClient, name: string): Promise<void> {
  for (;;) if ((await client.notices.next()).name === name) return;
}

describe('Socket.IO fast path', () => {
  it('finds every internal it relies on in the engine.io and ws this project pins', () => {
    expect(checkInternals().fastPath).toEqual([]);
  });

  it.each([
    ['on', 0],
    ['off', 1],
  ])('with SOCKETIO_FAST_PATH=%s, engine.io handles %d of one broadcast to a WebSocket client; a long-polling client gets it through engine.io either way', async (setting, viaEngine) => {
    const server = await startTestServer({ SOCKETIO_FAST_PATH: setting });
    const websocket = await connectSio(server.url, { auth: { name: 'websocket' } });
    const polling = await connectSio(server.url, { auth: { name: 'polling' }, transports: ['polling'] });
    await joined(websocket, 'polling');
    const websocketPackets = enginePackets(serverConnection(server, 'websocket'));
    const pollingPackets = enginePackets(serverConnection(server, 'polling'));

    const ack = await websocket.chat('the same bytes either way');
    if (!ack.ok) throw new Error(`refused: ${ack.error}`);
    const expected: ChatMessage = { id: ack.id, text: 'the same bytes either way', name: 'websocket', at: expect.any(Number) };
    expect(await websocket.chats.next()).toEqual(expected);
    expect(await polling.chats.next()).toEqual(expected);
    expect(websocketPackets).toHaveLength(viaEngine);
    expect(pollingPackets).toHaveLength(1);
  });

  it("keeps each ack before its message's echo, and the sender's order, when acks take engine.io's path and echoes the fast one", async () => {
    const server = await startTestServer();
    const sender = await connectSio(server.url, { auth: { name: 'sender' } });
    const seen: string[] = [];
    sender.socket.on('chat', (message: ChatMessage) => seen.push(`chat ${message.text}`));
    const texts = Array.from({ length: 30 }, (_, i) => `message ${i}`);
    const acks = texts.map(
      (text) =>
        new Promise<void>((resolve) => {
          sender.socket.emit('chat', text, () => {
            seen.push(`ack ${text}`);
            resolve();
          });
        }),
    );
    await Promise.all(acks);
    await waitUntil(() => seen.length === 2 * texts.length, 'every echo');
    expect(seen).toEqual(texts.flatMap((text) => [`ack ${text}`, `chat ${text}`]));
  });

  it("gives a client in two rooms both rooms' messages in the order the server sent them, and a client in one room only its own, on the wire", async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const seen: string[] = [];
    // One connection in both rooms (socket.io-client multiplexes namespaces on one Manager).
    const inLobby = await connectSio(server.url, { auth: { name: 'both' } });
    const inBeta = inLobby.socket.io.socket('/beta', { auth: { name: 'both' } });
    await new Promise<void>((resolve) => inBeta.once('connect', () => resolve()));
    // The lobby reader reads the wire itself: a client only in the lobby must not even be
    // sent the other room's packets (socket.io-client would drop them unseen).
    const wire = await tcpWebSocketPeer(server.url, '/socket.io/?EIO=4&transport=websocket');
    const lobbyFrames = serverTextFrames(wire);
    wire.write(clientTextFrame('40{"name":"lobby-reader"}'));
    inLobby.socket.on('chat', (message: ChatMessage) => seen.push(message.id));
    inBeta.on('chat', (message: ChatMessage) => seen.push(message.id));
    await waitUntil(() => lobbyFrames.some((frame) => frame.startsWith('42["notice"')), 'the lobby reader to join');
    // Sent alternately over the one connection, read by the server in the same turns:
    // both rooms' frames interleave in each write, and ids (one sequence for every room
    // of the process) give the order they were sent in.
    for (let i = 0; i < 50; i += 1) {
      inLobby.socket.emit('chat', `lobby ${i}`);
      inBeta.emit('chat', `beta ${i}`);
    }
    const lobbyChats = () => lobbyFrames.filter((frame) => frame.startsWith('42["chat"'));
    await waitUntil(() => seen.length === 100 && lobbyChats().length === 50, 'every message');
    expect(seen).toEqual([...seen].sort((a, b) => compareIds(a, b)));
    expect(new Set(seen).size).toBe(100);
    expect(lobbyChats().map((frame) => (JSON.parse(frame.slice(2)) as [string, ChatMessage])[1].text)).toEqual(
      Array.from({ length: 50 }, (_, i) => `lobby ${i}`),
    );
    expect(lobbyFrames.filter((frame) => frame.includes('/beta'))).toEqual([]);
  });

  it('still relays volatile typing, and keeps a client through heartbeats while broadcasts flow', async () => {
    // Time is the subject here: engine.io's ping every 100 ms must be answered in time
    // while chats take the fast path beside it.
    const server = await startTestServer({ HEARTBEAT_MS: '100', RATE_LIMIT: '0' });
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    await joined(alice, 'bob');
    let pings = 0;
    bob.socket.io.engine.on('ping', () => {
      pings += 1;
    });
    alice.socket.emit('typing');
    expect(await bob.typings.next()).toEqual({ name: 'alice' });
    for (let i = 0; pings < 5; i += 1) {
      expect((await alice.chat(`beat ${i}`)).ok).toBe(true);
      expect(await bob.chats.next()).toMatchObject({ text: `beat ${i}` });
    }
    expect(bob.socket.connected).toBe(true);
    expect(alice.socket.connected).toBe(true);
  });

  it("says so and uses engine.io's path for everything when an internal it relies on is missing", async () => {
    const lines: { level: number; msg: string; missing?: string }[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
          done();
        },
      }),
    );
    let start!: typeof import('../server/process/server').startServer;
    jest.isolateModules(() => {
      // What another engine.io version would look like to the start-up check.
      jest.doMock('../server/internals/check', () => ({
        ...jest.requireActual('../server/internals/check'),
        checkInternals: () => ({ required: [], fastPath: ['engine.io Socket.prototype.write'] }),
      }));
      ({ startServer: start } = jest.requireActual<typeof import('../server/process/server')>('../server/process/server'));
    });
    const server = await start(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: freshDataDir() }), { logger, shutdownGraceMs: 1_000 });
    onCleanup('servers', () => server.close());
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, missing: 'engine.io Socket.prototype.write' }));

    const client = await connectSio(server.url, { auth: { name: 'websocket' } });
    const packets = enginePackets(serverConnection(server, 'websocket'));
    expect((await client.chat('through engine.io')).ok).toBe(true);
    expect(await client.chats.next()).toMatchObject({ text: 'through engine.io' });
    expect(packets).toHaveLength(1);
  });
});
