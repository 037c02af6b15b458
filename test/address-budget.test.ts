/**
 * What one address may send, whatever it does with its connections: bursts come from the
 * address (a loop of connect, burst, close gets no more through than one connection
 * would), and the bytes it makes the server send are budgeted as encoded, so that what
 * others were allowed to send never cuts a reader that is draining.
 */
import WebSocket from 'ws';
import type { RawJsonFrame } from '../server/protocol';
import { rawUrl } from './support/raw-client';
import { connectRaw } from './support/raw-client';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';
import { waitUntil, within } from './support/wait';

/** A raw-transport sample of /metrics (rendered at most once a second: a poller sees it change). */
async function rawSample(url: string, metric: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{transport="raw"} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/** Opens a raw client, sends `count` frames at once and closes it without waiting for anything back. */
function burstAndClose(url: string, count: number, text: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(rawUrl(url, { name: 'looper' }));
    ws.on('error', () => undefined);
    ws.on('open', () => {
      for (let i = 0; i < count; i += 1) ws.send(text);
      ws.close();
      resolve();
    });
    ws.on('close', () => resolve());
  });
}

describe('bursts come from the address', () => {
  it('lets a loop of connect, burst of RATE_BURST, close through no faster than one connection', async () => {
    const rate = 20;
    const burst = 40;
    const server = await startTestServer({ RATE_LIMIT: String(rate), RATE_BURST: String(burst), MAX_CONNECTIONS_PER_IP: '0' });
    const started = Date.now();
    // The next connection opens while the server may not yet have seen the last one close.
    while (Date.now() - started < 3_000) await burstAndClose(server.url, burst, 'again');
    const elapsed = Date.now() - started;
    // What is still on its way counts too: the server has read everything once every connection is gone.
    await waitUntil(async () => (await rawSample(server.url, 'chat_connections')) === 0, 'every looping connection to close');
    const accepted = await rawSample(server.url, 'chat_messages_in_total');
    // One connection's allowance over the same time, plus one token each second for rounding.
    expect(accepted).toBeGreaterThanOrEqual(burst);
    expect(accepted).toBeLessThanOrEqual(burst + Math.ceil((elapsed / 1000) * rate) + Math.ceil(elapsed / 1000));
  });
});

/** 64 KiB of U+0001: six times that once JSON escapes it. */
const CONTROL_TEXT = '\u0001'.repeat(64 * 1024);

interface Sender {
  readonly acked: string[];
  readonly done: Promise<void>;
}

/** A raw JSON client counting its acks that sends `count` frames at once; done once each is acked or it is closed. */
async function sendBurst(url: string, name: string, count: number): Promise<Sender> {
  const ws = new WebSocket(rawUrl(url, { name, format: 'json', ack: '1' }));
  const acked: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: string };
      if (frame.type !== 'ack' || frame.id === undefined) return;
      acked.push(frame.id);
      if (acked.length === count) {
        ws.close();
        resolve();
      }
    });
    ws.on('close', () => resolve());
  });
  for (let i = 0; i < count; i += 1) ws.send(CONTROL_TEXT);
  return { acked, done };
}

describe('the bytes one address makes the server send', () => {
  it('never cut raw JSON and Socket.IO readers that are draining, however many connections sent them', async () => {
    const server = await startTestServer();
    const rawReader = await connectRaw(server.url, { name: 'raw-reader', format: 'json' });
    const rawIds = new Set<string>();
    rawReader.ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as RawJsonFrame;
      if (frame.type === 'chat') rawIds.add(frame.id);
    });
    const sioReader = await connectSio(server.url, { auth: { name: 'sio-reader' } });
    const sioIds = new Set<string>();
    sioReader.socket.on('chat', (message) => sioIds.add(message.id));
    let sioDropped: string | null = null;
    sioReader.socket.on('disconnect', (reason) => (sioDropped = reason));

    // Six connections from one address, each sending one burst its own budget allows.
    const senders = await Promise.all(Array.from({ length: 6 }, (_, i) => sendBurst(server.url, `sender-${i}`, 40)));
    await within(Promise.all(senders.map((s) => s.done)), 'every sender to be answered or closed', 30_000);
    const accepted = senders.flatMap((s) => s.acked);
    expect(accepted.length).toBeGreaterThan(0);

    // The readers get every accepted message and stay connected.
    await waitUntil(() => accepted.every((id) => rawIds.has(id) && sioIds.has(id)) || rawReader.ws.readyState !== WebSocket.OPEN || sioDropped !== null, 'the readers to receive every accepted message', 30_000);
    expect(rawReader.ws.readyState).toBe(WebSocket.OPEN);
    expect(sioDropped).toBeNull();
    expect(accepted.filter((id) => !rawIds.has(id) || !sioIds.has(id))).toEqual([]);
  });
});
