import { connect } from 'node:net';
import type { RawJsonFrame } from '../server/protocol';
import { onCleanup } from './support/cleanup';
import { MULTI_PROCESS_START_MS } from './support/nodes';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { startTestServer } from './support/server';
import { spawnServer } from './support/spawn-server';
import { within } from './support/wait';

// A primary and two workers for some tests, each compiling the server with tsx.
jest.setTimeout(90_000);

const KEY = 'backend-key';

/** A POST of one chat message to the lobby through the HTTP API, as raw bytes. */
function postMessage(key: string, text: string): string {
  const body = JSON.stringify({ name: 'backend', text });
  return (
    'POST /api/rooms/lobby/messages HTTP/1.1\r\nHost: localhost\r\n' +
    `Authorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** What one TCP connection got: every byte, and whether the server ended its side. */
interface Exchange {
  received: () => string;
  /** Resolves when the server has closed its side (FIN). */
  ended: Promise<void>;
  /** Resolves when the connection is gone entirely. */
  closed: Promise<void>;
  write(text: string): void;
  /**
   * Writes an empty line now and then until the connection is gone: a server that has
   * closed the connection answers with a reset, one that only closed its side reads on.
   */
  keepWriting(): void;
}

/**
 * A raw TCP client that keeps its own side open after the server closes its side, as a
 * client may that ignores `Connection: close`, so that it can still write.
 */
function openExchange(baseUrl: string): Exchange {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true });
  onCleanup('clients', () => socket.destroy());
  socket.on('error', () => undefined); // a reset is one way for the server to close
  let data = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => (data += chunk));
  let drip: NodeJS.Timeout | undefined;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => clearInterval(drip));
  onCleanup('clients', () => clearInterval(drip));
  return {
    received: () => data,
    ended: new Promise((resolve) => socket.once('end', resolve)),
    closed,
    write: (text) => socket.write(text),
    keepWriting: () => {
      // Deliberately timed: a peer that goes on writing; HTTP allows empty lines between requests.
      drip = setInterval(() => socket.write('\r\n'), 50);
    },
  };
}

/** The status lines of the HTTP answers in `text`. */
const statusLines = (text: string) => text.match(/^HTTP\/1\.1 \d{3} [^\r]*/gm) ?? [];

/** The chat texts a raw `format=json` client has received up to and including `marker`. */
async function chatsUntil(client: RawTestClient, marker: string): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const frame = (await client.nextJson(10_000)) as RawJsonFrame;
    if (frame.type !== 'chat') continue;
    texts.push(frame.text);
    if (frame.text === marker) return texts;
  }
}

const servers: [string, () => Promise<string>][] = [
  ['one process', async () => (await startTestServer({ API_KEY: KEY })).url],
  ['WORKERS=2', async () => (await spawnServer({ WORKERS: '2', API_KEY: KEY }, MULTI_PROCESS_START_MS)).url],
];

describe.each(servers)('%s: a request after an answer with Connection: close', (_name, start) => {
  it.each([
    ['written after that answer', false],
    ['pipelined behind the refused request', true],
  ])('is not executed when %s, and the connection closes after the one answer', async (_form, pipelined) => {
    const url = await start();
    const listener = await connectRaw(url, { name: 'listener', format: 'json' });
    await within(listener.nextJson(), "the listener's own join");

    // Refused before its body is read (wrong key): answered 401 with Connection: close.
    const client = openExchange(url);
    const refused = postMessage('wrong-key', 'refused');
    const second = postMessage(KEY, 'second');
    client.write(pipelined ? refused + second : refused);
    await within(client.ended, 'the server to close its side after the 401');
    expect(statusLines(client.received())).toEqual(['HTTP/1.1 401 Unauthorized']);
    expect(client.received()).toMatch(/\r\nConnection: close\r\n/i);
    if (!pipelined) client.write(second);
    client.keepWriting();
    await within(client.closed, 'the server to close the connection, not only its side of it');
    expect(statusLines(client.received())).toEqual(['HTTP/1.1 401 Unauthorized']);

    // Posted after the second request had reached the server: had the second been
    // executed, the listener would have had it first.
    const marker = await fetch(`${url}/api/rooms/lobby/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'backend', text: 'marker' }),
    });
    expect(marker.status).toBe(201);
    expect(await chatsUntil(listener, 'marker')).toEqual(['marker']);
    const history = await fetch(`${url}/api/rooms/lobby/messages`, { headers: { authorization: `Bearer ${KEY}` } });
    const { messages } = (await history.json()) as { messages: { text: string }[] };
    expect(messages.map((m) => m.text)).toEqual(['marker']);
  });
});
