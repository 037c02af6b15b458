/**
 * FastFrames (server/transports/socketio/fast-path.ts) on sockets that record what is
 * written to them: each flush writes one buffer per socket, a client's frames keep the
 * order they were queued in, and anything else written to the socket goes after them.
 */
import { Writable } from 'node:stream';
import type { Duplex } from 'node:stream';
import { FastFrames } from '../server/transports/socketio/fast-path';
import { TurnCork } from '../server/transports/socketio/turn-cork';
import { nextTurn } from './support/wait';

/**
 * A clock that stands still for the flush pacer: no flush seems to take time, so none is
 * followed by a pause, and every flush runs in the turn it was asked for, however busy the
 * machine (the pauses themselves are tested in flush-pacer.test.ts).
 */
const STILL = () => 0;

/** A socket that keeps every chunk written to it, as text. */
function recordingSocket(): { socket: Duplex; writes: string[] } {
  const writes: string[] = [];
  const socket = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk.toString());
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map(({ chunk }) => String(chunk)).join(''));
      done();
    },
  }) as unknown as Duplex;
  return { socket, writes };
}

/** A broadcast as socket.io-adapter hands it to each client: one options object, the frame in two parts. */
const broadcast = (text: string) => ({ options: {}, frame: [Buffer.from('<'), Buffer.from(`${text}>`)] });

describe('FastFrames', () => {
  it("writes each socket its frames of a turn in one write, in order, also when it gets only some of them", async () => {
    const frames = new FastFrames(STILL);
    const both = recordingSocket();
    const some = recordingSocket();
    const a = frames.attach(both.socket);
    const b = frames.attach(some.socket);
    const [one, two, three] = ['one', 'two', 'three'].map(broadcast);
    for (const [packet, to] of [
      [one, [a, b]],
      [two, [a]],
      [three, [a, b]],
    ] as const) {
      for (const fast of to) frames.queue(fast, packet!.options, packet!.frame);
    }
    expect(both.writes).toEqual([]);
    await nextTurn();
    expect(both.writes).toEqual(['<one><two><three>']);
    expect(some.writes).toEqual(['<one><three>']);
  });

  it('writes what is queued for a socket before anything else written to it, and not again at the flush', async () => {
    const frames = new FastFrames(STILL);
    const cork = new TurnCork(STILL);
    const { socket, writes } = recordingSocket();
    const fast = frames.attach(socket);
    cork.attach(socket, () => frames.writeQueued(fast));
    const chat = broadcast('chat');
    frames.queue(fast, chat.options, chat.frame);
    socket.write('[ack]'); // engine.io's path, e.g. an ack, in the same turn
    const later = broadcast('later');
    frames.queue(fast, later.options, later.frame);
    await nextTurn();
    await nextTurn();
    expect(writes.join('')).toBe('<chat>[ack]<later>');
  });
});
