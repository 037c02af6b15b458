/**
 * Readers that read are never cut as slow consumers, however large a legitimate burst or
 * a newcomer's history is; readers that stop reading still are. Default limits unless a
 * test says otherwise (MAX_MESSAGE_BYTES 64 KiB, MAX_BUFFERED_BYTES 1 MiB, RATE_BURST 40).
 */
import { textsOf } from './support/stored-chat';
import type { ChatMessage, RawJsonFrame } from '../server/protocol';
import { httpGet } from './support/http-upgrade';
import { clientTextFrame, tcpWebSocketPeer } from './support/peers';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';

const MAX_MESSAGE_BYTES = 65536;

/**
 * A message of exactly MAX_MESSAGE_BYTES whose body is U+0001: JSON writes each as
 * `\u0001`, so every JSON client receives six times its size.
 */
const controlMessage = (label: string) => label.padEnd(MAX_MESSAGE_BYTES, '\x01');

/** Waits until a raw JSON client has received `count` chats from `name`; returns their texts. */
async function rawChatsFrom(client: RawTestClient, name: string, count: number): Promise<string[]> {
  const texts: string[] = [];
  while (texts.length < count) {
    const frame: RawJsonFrame = await client.nextJson(15_000);
    if (frame.type === 'chat' && frame.name === name) texts.push(frame.text);
  }
  return texts;
}

/** Waits until a Socket.IO client has received `count` chats from `name`; returns their texts. */
async function sioChatsFrom(client: SioTestClient, name: string, count: number): Promise<string[]> {
  const texts: string[] = [];
  while (texts.length < count) {
    const message: ChatMessage = await client.chats.next(15_000);
    if (message.name === name) texts.push(message.text);
  }
  return texts;
}

/** chat_rejected_total for one reason, read from /metrics as an operator would. */
async function rejected(url: string, reason: string): Promise<number> {
  const { body } = await httpGet(`${url}/metrics`);
  const match = new RegExp(`^chat_rejected_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(body);
  return match ? Number(match[1]) : 0;
}

describe('slow consumers', () => {
  // The byte budget off: one sender may then fill the history with the largest messages.
  it('lets Socket.IO newcomers in when history holds the largest allowed messages', async () => {
    const server = await startTestServer({ RATE_LIMIT_BYTES: '0' });
    const sender = await connectRaw(server.url, { name: 'big-sender', format: 'json' });
    const texts = Array.from({ length: 17 }, (_, i) => controlMessage(`big ${i} `));
    for (const text of texts) sender.send(text);
    // The sender's own echo of the last one: by then all 17 are in the history.
    expect(await rawChatsFrom(sender, 'big-sender', 17)).toEqual(texts);

    const websocketOnly = await connectSio(server.url, { auth: { name: 'newcomer-ws' } });
    const polling = await connectSio(server.url, { auth: { name: 'newcomer-polling' }, transports: ['polling', 'websocket'] });
    for (const newcomer of [websocketOnly, polling]) {
      const history = await newcomer.histories.next(15_000);
      // The newest messages, as many as HISTORY_BYTES (1 MiB of text) holds, oldest first.
      expect(history.length).toBeGreaterThan(0);
      expect(history.length).toBeLessThan(texts.length);
      expect(textsOf(history)).toEqual(texts.slice(texts.length - history.length));
    }

    // Both newcomers are still here: the next message reaches them, and nobody was told they left.
    sender.send('after the history');
    for (const newcomer of [websocketOnly, polling]) {
      expect(await sioChatsFrom(newcomer, 'big-sender', 1)).toEqual(['after the history']);
      expect(newcomer.socket.connected).toBe(true);
      expect(newcomer.notices.pending.filter((n) => n.kind === 'leave')).toEqual([]);
    }
    expect(await rejected(server.url, 'slow_consumer')).toBe(0);
  });

  // The byte budget off: a burst of the largest messages is then allowed from one address.
  it('keeps readers of both kinds that read a 15 MB burst of allowed messages', async () => {
    const server = await startTestServer({ RATE_LIMIT_BYTES: '0' });
    const rawReader = await connectRaw(server.url, { name: 'raw-reader', format: 'json' });
    const sioReader = await connectSio(server.url, { auth: { name: 'sio-reader' } });
    const sender = await connectRaw(server.url, { name: 'burst-sender' });
    await sioReader.notices.next(); // its own join
    await sioReader.notices.next(); // the sender's join: the sender is in the room

    // 38 messages at once, within RATE_BURST: each JSON reader receives 38 x 384 KiB.
    const texts = Array.from({ length: 38 }, (_, i) => controlMessage(`burst ${i} `));
    for (const text of texts) sender.send(text);
    sender.send('after the burst');

    expect(await rawChatsFrom(rawReader, 'burst-sender', 39)).toEqual([...texts, 'after the burst']);
    expect(await sioChatsFrom(sioReader, 'burst-sender', 39)).toEqual([...texts, 'after the burst']);
    expect(rawReader.ws.readyState).toBe(rawReader.ws.OPEN);
    expect(sioReader.socket.connected).toBe(true);
    expect(await rejected(server.url, 'slow_consumer')).toBe(0);
  });

  // A raw peer, and a Socket.IO one over WebSocket: with the fast path on, engine.io's
  // transport never looks busy for the latter, so only the TCP socket's buffer shows it.
  const STALLED_PEERS = {
    raw: (url: string) => tcpWebSocketPeer(url, '/socket?name=stalled'),
    'socket.io': async (url: string) => {
      const peer = await tcpWebSocketPeer(url, '/socket.io/?EIO=4&transport=websocket');
      peer.write(clientTextFrame('40{"name":"stalled"}'));
      return peer;
    },
  };

  it.each([
    // MAX_BUFFERED_MS far longer than the test: only the ceiling can cut the peer.
    ['raw', 'at once when it passes the memory ceiling', { MAX_BUFFERED_MS: '600000', BUFFERED_CEILING_BYTES: '1048576' }],
    ['socket.io', 'at once when it passes the memory ceiling', { MAX_BUFFERED_MS: '600000', BUFFERED_CEILING_BYTES: '1048576' }],
    // The ceiling far above what the test sends: only staying behind can cut the peer.
    ['raw', 'when it stays above MAX_BUFFERED_BYTES for MAX_BUFFERED_MS', { MAX_BUFFERED_MS: '200' }],
    ['socket.io', 'when it stays above MAX_BUFFERED_BYTES for MAX_BUFFERED_MS', { MAX_BUFFERED_MS: '200' }],
  ] as const)('cuts a %s reader that stopped reading %s', async (kind, _, limits) => {
    const server = await startTestServer({
      MAX_BUFFERED_BYTES: '65536',
      HEARTBEAT_MS: '600000', // no heartbeat during the test: only the slow-consumer rule cuts
      RATE_LIMIT: '0',
      ...limits,
    });
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' });
    await STALLED_PEERS[kind](server.url);
    for (;;) {
      const frame = await observer.nextJson();
      if (frame.type === 'notice' && frame.kind === 'join' && frame.name === 'stalled') break;
    }
    const sender = await connectRaw(server.url, { name: 'sender' });
    // 60 KB at a time until the observer is told that the stalled peer left; each one
    // waits for its echo, so the stalled peer's buffers fill as fast as the server writes.
    let gone = false;
    for (let i = 0; i < 400 && !gone; i += 1) {
      const text = `${i} ${'c'.repeat(60_000)}`;
      sender.send(text);
      for (;;) {
        const frame = await observer.nextJson();
        if (frame.type === 'notice' && frame.kind === 'leave' && frame.name === 'stalled') gone = true;
        if (frame.type === 'chat' && frame.text === text) break;
      }
    }
    expect(gone).toBe(true);
    expect(await rejected(server.url, 'slow_consumer')).toBe(1);
  });

  it('cuts a socket.io reader that stopped reading once its grace runs out, though nothing more is sent after the burst', async () => {
    // The grace is what the readers (the observer, the sender's echo) need to take the
    // 9 MB burst on a busy machine: with 500 ms a CI run cut the observer too.
    const server = await startTestServer({ MAX_BUFFERED_BYTES: '65536', MAX_BUFFERED_MS: '3000', HEARTBEAT_MS: '600000', RATE_LIMIT: '0' });
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' });
    await STALLED_PEERS['socket.io'](server.url);
    for (;;) {
      const frame = await observer.nextJson();
      if (frame.type === 'notice' && frame.kind === 'join' && frame.name === 'stalled') break;
    }
    // One burst, sent without waiting: far more than the kernel's buffers take, far less
    // than the ceiling. It is over well before the grace ends; after it the room is silent.
    const sender = await connectRaw(server.url, { name: 'sender' });
    const burst = Array.from({ length: 150 }, (_, i) => `${i} ${'c'.repeat(60_000)}`);
    for (const text of burst) sender.send(text);
    for (;;) {
      const frame = await observer.nextJson(15_000);
      if (frame.type === 'notice' && frame.kind === 'leave' && frame.name === 'stalled') break;
    }
    expect(await rejected(server.url, 'slow_consumer')).toBe(1);
  });
});
