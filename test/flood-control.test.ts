/**
 * Flood control that a client cannot walk around: reconnecting does not refill its
 * budget, and once the server has decided to close a client, nothing more from it is
 * broadcast. Each test has its own server and a JSON observer that sees what the room sees.
 */
import type { RawJsonFrame } from '../server/protocol';
import { clientCloseFrame, clientFrame, clientTextFrame, Opcode, tcpWebSocketPeer } from './support/peers';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

const RATE_LIMIT = 20;
const RATE_BURST = 40;

/**
 * Reads the observer's frames until `until` holds for one of them, and returns the chat
 * texts from `name` seen on the way. `until` is the positive marker: anything that was
 * broadcast before it has arrived too.
 */
async function chatsUntil(observer: RawTestClient, name: string, until: (frame: RawJsonFrame) => boolean): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const frame = await observer.nextJson(10_000);
    if (frame.type === 'chat' && frame.name === name) texts.push(frame.text);
    if (until(frame)) return texts;
  }
}

const isLeaveOf = (name: string) => (frame: RawJsonFrame) => frame.type === 'notice' && frame.kind === 'leave' && frame.name === name;

/** What RATE_LIMIT and RATE_BURST allow one sender in `ms`, plus one for the token in progress. */
const allowance = (ms: number) => RATE_BURST + Math.ceil((ms / 1000) * RATE_LIMIT) + 1;

describe('flood control across reconnects', () => {
  it('does not refill a raw client’s budget when it reconnects', async () => {
    const server = await startTestServer({ RATE_LIMIT: String(RATE_LIMIT), RATE_BURST: String(RATE_BURST), MAX_CONNECTIONS_PER_IP: '4' });
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' });
    const started = Date.now();
    let broadcast = 0;
    for (let round = 0; round < 8; round += 1) {
      const recycler = await connectRaw(server.url, { name: 'recycler' });
      for (let i = 0; i < RATE_BURST; i += 1) recycler.send(`round ${round} #${i}`);
      await recycler.close();
      // Its leave, after every message of this round that was broadcast.
      broadcast += (await chatsUntil(observer, 'recycler', isLeaveOf('recycler'))).length;
    }
    expect(broadcast).toBeGreaterThanOrEqual(RATE_BURST);
    expect(broadcast).toBeLessThanOrEqual(allowance(Date.now() - started));
  });

  it('does not refill a Socket.IO client’s budget when it reconnects', async () => {
    const server = await startTestServer({ RATE_LIMIT: String(RATE_LIMIT), RATE_BURST: String(RATE_BURST) });
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' });
    const started = Date.now();
    let accepted = 0;
    for (let round = 0; round < 8; round += 1) {
      const recycler = await connectSio(server.url, { auth: { name: 'recycler' } });
      const acks = await Promise.all(Array.from({ length: RATE_BURST }, (_, i) => recycler.chat(`round ${round} #${i}`)));
      expect(acks.filter((ack) => !ack.ok)).toEqual(acks.filter((ack) => !ack.ok).map(() => ({ ok: false, error: 'rate_limited' })));
      accepted += acks.filter((ack) => ack.ok).length;
      recycler.socket.disconnect();
      const seen = await chatsUntil(observer, 'recycler', isLeaveOf('recycler'));
      expect(seen.length).toBe(acks.filter((ack) => ack.ok).length);
    }
    expect(accepted).toBeGreaterThanOrEqual(RATE_BURST);
    expect(accepted).toBeLessThanOrEqual(allowance(Date.now() - started));
  });

  it('gives a raw client that switches to Socket.IO no fresh budget either', async () => {
    const server = await startTestServer({ RATE_LIMIT: String(RATE_LIMIT), RATE_BURST: String(RATE_BURST) });
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' });
    const started = Date.now();
    const raw = await connectRaw(server.url, { name: 'switcher' });
    for (let i = 0; i < RATE_BURST; i += 1) raw.send(`raw #${i}`);
    await raw.close();
    const first = await chatsUntil(observer, 'switcher', isLeaveOf('switcher'));
    const sio = await connectSio(server.url, { auth: { name: 'switcher' } });
    const acks = await Promise.all(Array.from({ length: RATE_BURST }, (_, i) => sio.chat(`sio #${i}`)));
    const accepted = acks.filter((ack) => ack.ok).length;
    expect(first.length + accepted).toBeLessThanOrEqual(allowance(Date.now() - started));
  });
});

describe('a client the server is closing', () => {
  it('has nothing broadcast after its binary frame, even when it ignores the close', async () => {
    const server = await startTestServer();
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' });
    const peer = await tcpWebSocketPeer(server.url, '/socket?name=ignores-close');
    const after = Array.from({ length: 20 }, (_, i) => clientTextFrame(`after the close ${i}`));
    // One write: the binary frame (the server answers with close 1003), 20 text frames
    // the peer sends as if it had not seen that close, then its own close frame.
    peer.write(Buffer.concat([clientFrame(Opcode.Binary, Buffer.from([1, 2, 3])), ...after, clientCloseFrame()]));
    peer.resume(); // reads, so it sees the server end the connection after the close handshake
    expect(await chatsUntil(observer, 'ignores-close', isLeaveOf('ignores-close'))).toEqual([]);
  });

  it('has nothing broadcast after its flood was closed with 1008, even when it ignores the close', async () => {
    // Tokens come back within microseconds at this rate: only the close can stop them.
    const server = await startTestServer({ RATE_LIMIT: '1000000', RATE_BURST: '5' });
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' });
    const peer = await tcpWebSocketPeer(server.url, '/socket?name=flooder');
    // More than the burst within one millisecond (the budget's clock), however slow the
    // machine: the frames of one write are parsed in one go.
    peer.write(Buffer.concat(Array.from({ length: 200 }, (_, i) => clientTextFrame(`flood ${i}`))));
    // The server's close frame (opcode 8) with 1008: the peer reads it and carries on.
    peer.resume();
    const closeFrame = await new Promise<Buffer>((resolve) => {
      let seen = Buffer.alloc(0);
      peer.on('data', (chunk: Buffer) => {
        seen = Buffer.concat([seen, chunk]);
        const at = seen.indexOf(0x88);
        if (at !== -1 && seen.length >= at + 4) resolve(seen.subarray(at));
      });
    });
    expect(closeFrame.readUInt16BE(2)).toBe(1008);
    const after = Array.from({ length: 20 }, (_, i) => clientTextFrame(`after the close ${i}`));
    peer.write(Buffer.concat([...after, clientCloseFrame()]));
    const texts = await chatsUntil(observer, 'flooder', isLeaveOf('flooder'));
    // What went out before the close, in order, and nothing after it.
    expect(texts.length).toBeGreaterThanOrEqual(5);
    expect(texts.length).toBeLessThan(200);
    expect(texts).toEqual(Array.from({ length: texts.length }, (_, i) => `flood ${i}`));
  });
});
