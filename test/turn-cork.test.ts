import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable, type Duplex } from 'node:stream';
import WebSocket from 'ws';
import { corkingWsEngine } from '../server/transports/socketio/corking-ws-engine';
import { TurnCork } from '../server/transports/socketio/turn-cork';
import { nextTurn } from './support/wait';

/** A stream that records how its chunks reach the "kernel": one entry per system call. */
function recordingStream() {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      calls.push([chunk.toString()]);
      callback();
    },
    writev(chunks, callback) {
      calls.push(chunks.map(({ chunk }) => String(chunk)));
      callback();
    },
  });
  return { stream, calls };
}

/**
 * A clock that stands still for the flush pacer: no flush seems to take time, so none is
 * followed by a pause, and every flush runs in the turn it was asked for, however busy the
 * machine (the pauses themselves are tested in flush-pacer.test.ts).
 */
const STILL = () => 0;

describe('TurnCork', () => {
  it('hands everything a socket gets in one turn to the kernel in one call, in order', async () => {
    const cork = new TurnCork(STILL);
    const { stream, calls } = recordingStream();
    cork.attach(stream as unknown as Duplex);

    stream.write('a');
    stream.write('b');
    stream.write('c');
    expect(calls).toEqual([]);
    await nextTurn();
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  it('sends a lone write in the turn it was made, without waiting for more', async () => {
    const cork = new TurnCork(STILL);
    const { stream, calls } = recordingStream();
    cork.attach(stream as unknown as Duplex);

    // An immediate queued after the write runs in the same check phase as the uncork.
    stream.write('alone');
    await nextTurn();
    expect(calls).toEqual([['alone']]);
  });

  it('uncorks every socket written to in a turn with one scheduled callback', async () => {
    const cork = new TurnCork(STILL);
    const a = recordingStream();
    const b = recordingStream();
    cork.attach(a.stream as unknown as Duplex);
    cork.attach(b.stream as unknown as Duplex);

    a.stream.write('1');
    b.stream.write('x');
    a.stream.write('2');
    b.stream.write('y');
    await nextTurn();
    expect(a.calls).toEqual([['1', '2']]);
    expect(b.calls).toEqual([['x', 'y']]);
  });

  it('keeps the order of writes across turns, including writes made while uncorking', async () => {
    const cork = new TurnCork(STILL);
    const { stream, calls } = recordingStream();
    cork.attach(stream as unknown as Duplex);

    // A write callback runs after the uncork and writes again, as engine.io does when a
    // write completes and it flushes the packets that waited for it.
    stream.write('first', () => stream.write('from callback'));
    stream.write('second');
    await nextTurn();
    await nextTurn();
    stream.write('later');
    await nextTurn();
    expect(calls.flat()).toEqual(['first', 'second', 'from callback', 'later']);
    expect(calls[0]).toEqual(['first', 'second']);
  });

  it('lets end() flush a corked socket at once', async () => {
    const cork = new TurnCork(STILL);
    const { stream, calls } = recordingStream();
    cork.attach(stream as unknown as Duplex);

    stream.write('last words');
    stream.end();
    expect(calls).toEqual([['last words']]);
    await nextTurn();
    expect(calls).toEqual([['last words']]);
  });
});

describe('corkingWsEngine', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it('answers the handshake at once, then writes all frames of a turn in one call', async () => {
    const Engine = corkingWsEngine();
    const wss = new Engine({ noServer: true, perMessageDeflate: false });
    const systemCalls: number[] = [];
    server = createServer();
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        // The 101 has been written already; from here, count what reaches the kernel.
        const target = socket as Duplex & { _write: Writable['_write']; _writev?: Writable['_writev'] };
        const write = target._write.bind(target);
        const writev = target._writev?.bind(target);
        target._write = (chunk, encoding, callback) => {
          systemCalls.push(1);
          write(chunk, encoding, callback);
        };
        target._writev = (chunks, callback) => {
          systemCalls.push(chunks.length);
          writev?.(chunks, callback);
        };
        for (const text of ['one', 'two', 'three']) ws.send(text);
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const client = new WebSocket(`ws://127.0.0.1:${port}/`);
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      client.on('message', (data) => {
        received.push(String(data));
        if (received.length === 3) resolve();
      });
      client.once('error', reject);
    });
    client.terminate();
    expect(received).toEqual(['one', 'two', 'three']);
    // Each ws frame is a header and a payload chunk: six chunks, one system call.
    expect(systemCalls).toEqual([6]);
  });
});
