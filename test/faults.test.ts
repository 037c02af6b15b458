/**
 * The fault suite: a raw observer and a Socket.IO observer stay connected throughout,
 * and after every fault a legitimate message must reach both, in order. The last test
 * checks the whole record: every legitimate message, in order, and exactly one leave
 * notice for every peer that went away, however it went.
 */
import WebSocket from 'ws';
import type { RunningServer } from '../server/process/server';
import { httpGet, upgradeStatus } from './support/http-upgrade';
import { unprovenShare } from '../server/access/admission';
import { clientCloseFrame, clientFrame, clientTextFrame, connectEngineClient, Opcode, tcpWebSocketPeer } from './support/peers';
import { getRequest, pipelineInGroups, pipelineUnread, POLLING_HANDSHAKE, sessionOf } from './support/pipeline';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { eventually, RoomLog } from './support/room-log';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';

const TOKEN = 'letmein';
const MAX_MESSAGE_BYTES = 65536;
const RATE_LIMIT = 20;
const RATE_BURST = 40;
const MAX_CONNECTIONS = 40;
const PERMANENT = ['raw-observer', 'sio-observer', 'legit'];

let server: RunningServer;
let rawLog: RoomLog;
let sioLog: RoomLog;
let legit: SioTestClient;
const sent: string[] = [];

beforeAll(async () => {
  server = await startTestServer({
    CHAT_TOKEN: TOKEN,
    MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
    MAX_BUFFERED_BYTES: '65536',
    // Shorter than the heartbeat, so that a peer that stopped reading is cut as a slow
    // consumer before its missed pongs would cut it.
    MAX_BUFFERED_MS: '300',
    HEARTBEAT_MS: '1000',
    MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    RATE_LIMIT: String(RATE_LIMIT),
    RATE_BURST: String(RATE_BURST),
  });
  rawLog = RoomLog.ofRaw(await connectRaw(server.url, { format: 'json', name: 'raw-observer', token: TOKEN }));
  sioLog = RoomLog.ofSio(await connectSio(server.url, { auth: { name: 'sio-observer', token: TOKEN } }));
  legit = await connectSio(server.url, { auth: { name: 'legit', token: TOKEN } });
});

/** A legitimate message, which both observers must receive. */
async function probe(): Promise<void> {
  const text = `legit #${sent.length}`;
  sent.push(text);
  expect(await legit.chat(text)).toMatchObject({ ok: true });
  await eventually(
    () => rawLog.chatsFrom('legit').includes(text) && sioLog.chatsFrom('legit').includes(text),
    `both observers to receive "${text}"`,
  );
}

/** Waits for `name`'s leave notice at both observers. */
const leaves = (name: string) =>
  eventually(() => rawLog.count('leave', name) >= 1 && sioLog.count('leave', name) >= 1, `${name} to leave`);

/** chat_rejected_total for one reason, read from /metrics as an operator would. */
async function rejected(reason: string): Promise<number> {
  const { body } = await httpGet(`${server.url}/metrics`);
  const match = new RegExp(`^chat_rejected_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(body);
  return match ? Number(match[1]) : 0;
}

/** /metrics is rendered at most once a second: waits until the count shows `value`. */
async function rejectedReaches(reason: string, value: number): Promise<void> {
  await eventually(async () => (await rejected(reason)) === value, `chat_rejected_total{reason="${reason}"} = ${value}`);
  expect(await rejected(reason)).toBe(value);
}

const raw = (name: string, extra: Record<string, string> = {}) => connectRaw(server.url, { name, token: TOKEN, ...extra });
/**
 * `from`: a loopback address of its own (Linux answers on all of 127.0.0.0/8), for a
 * client that needs a whole flood-control budget: the server keeps budgets per address,
 * and the clients before it on 127.0.0.1 may have spent theirs.
 */
const sio = (name: string, from?: string) =>
  connectSio(server.url, { auth: { name, token: TOKEN }, ...(from ? { localAddress: from } : {}) });

afterEach(probe);

describe('faults, with observers connected throughout', () => {
  it('closes a raw client whose frame is over MAX_MESSAGE_BYTES with 1009', async () => {
    const offender = await raw('oversize-raw');
    offender.send('x'.repeat(MAX_MESSAGE_BYTES + 1));
    expect((await offender.closed).code).toBe(1009);
    await leaves('oversize-raw');
  });

  it('disconnects a Socket.IO client whose packet is over the limit', async () => {
    const offender = await sio('oversize-sio');
    const gone = new Promise<string>((resolve) => offender.socket.once('disconnect', resolve));
    offender.socket.emit('chat', 'x'.repeat(4 * MAX_MESSAGE_BYTES));
    expect(await gone).toBe('transport close');
    await leaves('oversize-sio');
  });

  it('closes a raw client that sends a binary frame with 1003', async () => {
    const offender = await raw('binary');
    offender.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await offender.closed).code).toBe(1003);
    await leaves('binary');
  });

  it('closes a raw client that sends invalid UTF-8 with 1007', async () => {
    const offender = await raw('bad-utf8');
    offender.ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
    expect((await offender.closed).code).toBe(1007);
    await leaves('bad-utf8');
  });

  it.each([
    ['4abc'],
    ['42{}'],
    ['42abc['],
    ['451-["chat"'],
    ['4599999-["chat",{"_placeholder":true,"num":0}]'],
  ])('closes a Socket.IO connection that sends the malformed packet %s', async (packet) => {
    const name = `malformed ${packet.slice(0, 12)}`;
    const offender = await connectEngineClient(server.url, { auth: { name, token: TOKEN } });
    offender.ws.send(packet);
    await offender.closed;
    await leaves(name);
  });

  it('shrugs off a client emitting an event named "error", and keeps serving it', async () => {
    const offender = await connectEngineClient(server.url, { auth: { name: 'error-emitter', token: TOKEN } });
    offender.ws.send('42["error","boom"]');
    offender.ws.send('42["chat","after the error event"]');
    await eventually(
      () => sioLog.chatsFrom('error-emitter').includes('after the error event'),
      'the chat sent after the error event',
    );
    offender.ws.close();
    await leaves('error-emitter');
  });

  it('refuses non-string and huge chat payloads with error acks and keeps the client', async () => {
    const offender = await sio('bad-payloads');
    expect(await offender.chat(12345)).toEqual({ ok: false, error: 'invalid_type' });
    expect(await offender.chat(['an', 'array'])).toEqual({ ok: false, error: 'invalid_type' });
    expect(await offender.chat({ toString: 'no' })).toEqual({ ok: false, error: 'invalid_type' });
    expect(await offender.chat('€'.repeat(MAX_MESSAGE_BYTES / 3 + 1))).toEqual({ ok: false, error: 'too_large' });
    expect(offender.socket.connected).toBe(true);
    expect(sioLog.chatsFrom('bad-payloads')).toEqual([]);
    offender.socket.disconnect();
    await leaves('bad-payloads');
  });

  it('answers an upgrade with thousands of headers with 431', async () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 5000; i += 1) headers[`x-header-${i}`] = 'v';
    expect(await upgradeStatus(server.url, `/socket?token=${TOKEN}`, headers)).toBe(431);
  });

  it('closes a raw flooder with 1008 after its burst, broadcasting only the burst', async () => {
    const flooder = await raw('flooder-raw');
    const started = Date.now();
    for (let i = 0; i < 200; i += 1) flooder.send(`flood ${i}`);
    expect((await flooder.closed).code).toBe(1008);
    await leaves('flooder-raw');
    const allowed = RATE_BURST + Math.ceil(((Date.now() - started) / 1000) * RATE_LIMIT);
    expect(sioLog.chatsFrom('flooder-raw').length).toBeLessThanOrEqual(allowed);
    expect(sioLog.chatsFrom('flooder-raw')).toEqual(rawLog.chatsFrom('flooder-raw'));
  });

  it('acks a Socket.IO flooder with rate_limited past its burst, and broadcasts none of those', async () => {
    const flooder = await sio('flooder-sio', '127.0.0.2');
    const acks = await Promise.all(Array.from({ length: 120 }, (_, i) => flooder.chat(`flood ${i}`)));
    const accepted = acks.filter((ack) => ack.ok).length;
    expect(accepted).toBeGreaterThanOrEqual(RATE_BURST);
    expect(accepted).toBeLessThan(120);
    expect(acks.filter((ack) => !ack.ok)).toEqual(Array(120 - accepted).fill({ ok: false, error: 'rate_limited' }));
    await eventually(() => sioLog.chatsFrom('flooder-sio').length === accepted, 'the accepted flood messages');
    expect(flooder.socket.connected).toBe(true);
    flooder.socket.disconnect();
    await leaves('flooder-sio');
  });

  /** The last byte of the 127.0.1.x address that the last fresh sender came from. */
  let freshAddresses = 0;

  /**
   * Broadcasts 60 KB messages from fresh senders (each with its own burst, from an
   * address of its own) until `name` has been cut off, at most `maxMegabytes`. Every one
   * of them is legitimate: both observers must receive it.
   */
  async function broadcastUntilGone(name: string, maxMegabytes: number): Promise<number> {
    const chunk = 'm'.repeat(60_000);
    let bytes = 0;
    for (let round = 0; bytes < maxMegabytes * 1e6; round += 1) {
      const senderName = `bulk-${name}-${round}`;
      const sender = await sio(senderName, `127.0.1.${(freshAddresses += 1)}`);
      const acks = await Promise.all(Array.from({ length: RATE_BURST }, (_, i) => sender.chat(`${i} ${chunk}`)));
      expect(acks.every((ack) => ack.ok)).toBe(true);
      bytes += RATE_BURST * chunk.length;
      await eventually(
        () => rawLog.chatsFrom(senderName).length === RATE_BURST && sioLog.chatsFrom(senderName).length === RATE_BURST,
        `round ${round} to reach the raw observer`,
        30_000,
      );
      sender.socket.disconnect();
      if (sioLog.count('leave', name) > 0) return bytes;
    }
    throw new Error(`${name} was still connected after ${bytes} bytes`);
  }

  it('cuts a raw peer that stopped reading, with one leave notice, while megabytes flow', async () => {
    const before = await rejected('slow_consumer');
    await tcpWebSocketPeer(server.url, `/socket?name=stalled-raw&token=${TOKEN}`);
    await eventually(() => sioLog.count('join', 'stalled-raw') === 1, 'stalled-raw to join');
    const bytes = await broadcastUntilGone('stalled-raw', 64);
    expect(bytes).toBeGreaterThan(65536);
    await leaves('stalled-raw');
    // Cut as a slow consumer, not by the heartbeat (it does not answer pings either).
    await rejectedReaches('slow_consumer', before + 1);
  });

  it('cuts a Socket.IO peer that stopped reading, with one leave notice, while megabytes flow', async () => {
    const before = await rejected('slow_consumer');
    const stalled = await connectEngineClient(server.url, { auth: { name: 'stalled-sio', token: TOKEN } });
    stalled.ws.pause();
    await eventually(() => sioLog.count('join', 'stalled-sio') === 1, 'stalled-sio to join');
    await broadcastUntilGone('stalled-sio', 64);
    await leaves('stalled-sio');
    await rejectedReaches('slow_consumer', before + 1);
  });

  it('terminates a raw peer that never answers pings', async () => {
    const deaf = new WebSocket(`${server.url.replace('http', 'ws')}/socket?name=deaf-raw&token=${TOKEN}`, {
      autoPong: false,
    });
    deaf.on('error', () => undefined);
    const code = await new Promise<number>((resolve) => deaf.on('close', resolve));
    expect(code).toBe(1006); // cut without a close frame
    await leaves('deaf-raw');
  });

  it('drops a Socket.IO peer that never answers pings', async () => {
    const deaf = await connectEngineClient(server.url, { auth: { name: 'deaf-sio', token: TOKEN }, answerPings: false });
    await deaf.closed;
    await leaves('deaf-sio');
  });

  it('survives a socket destroyed in the middle of a frame', async () => {
    const peer = await tcpWebSocketPeer(server.url, `/socket?name=half-frame&token=${TOKEN}`);
    await eventually(() => sioLog.count('join', 'half-frame') === 1, 'half-frame to join');
    const frame = clientTextFrame('this frame never ends');
    peer.write(frame.subarray(0, frame.length - 5));
    peer.destroy();
    await leaves('half-frame');
  });

  it('refuses foreign origins with 403 on both endpoints', async () => {
    const foreign = { Origin: 'https://evil.example' };
    expect(await upgradeStatus(server.url, `/socket?token=${TOKEN}`, foreign)).toBe(403);
    expect(await upgradeStatus(server.url, '/socket.io/?EIO=4&transport=websocket', foreign)).toBe(403);
    expect((await httpGet(`${server.url}/socket.io/?EIO=4&transport=polling`, foreign)).status).toBe(403);
  });

  it('refuses a missing or wrong token: 401 for raw, connect_error for Socket.IO, and nobody joins', async () => {
    expect(await upgradeStatus(server.url, '/socket?name=intruder')).toBe(401);
    expect(await upgradeStatus(server.url, '/socket?name=intruder&token=wrong')).toBe(401);
    await expect(connectSio(server.url, { auth: { name: 'intruder', token: 'wrong' } })).rejects.toThrow('unauthorized');
    await expect(connectSio(server.url, { auth: { name: 'intruder' } })).rejects.toThrow('unauthorized');
    expect(sioLog.count('join', 'intruder')).toBe(0);
  });

  it('refuses connections past MAX_CONNECTIONS at the handshake with 503, then admits again', async () => {
    const fillers: RawTestClient[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i += 1) {
      const status = await upgradeStatus(server.url, `/socket?token=${TOKEN}`);
      if (status === 503) break;
      fillers.push(await raw(`filler-${i}`));
    }
    expect(fillers.length).toBeLessThan(MAX_CONNECTIONS);
    expect(await upgradeStatus(server.url, `/socket?token=${TOKEN}`)).toBe(503);
    expect(await upgradeStatus(server.url, '/socket.io/?EIO=4&transport=websocket')).toBe(503);
    expect((await httpGet(`${server.url}/socket.io/?EIO=4&transport=polling`)).status).toBe(503);

    await Promise.all(fillers.map((filler) => filler.close()));
    await eventually(() => fillers.every((_, i) => sioLog.count('leave', `filler-${i}`) === 1), 'the fillers to leave');
    const after = await raw('after-the-cap');
    await after.close();
    await leaves('after-the-cap');
  });
});

describe('hostile clients, with observers connected throughout', () => {
  it('gives a client that reconnects in a loop no fresh flood budget', async () => {
    const started = Date.now();
    const names = Array.from({ length: 5 }, (_, round) => `recycler-${round}`);
    for (const name of names) {
      // From an address of its own: the budget it leaves behind is that address's.
      const recycler = await connectRaw(server.url, { name, token: TOKEN }, {}, { localAddress: '127.0.0.3' });
      for (let i = 0; i < RATE_BURST; i += 1) recycler.send(`${name} #${i}`);
      await recycler.close(); // or the server closed it with 1008 already
      await leaves(name);
    }
    const recycled = (log: RoomLog) => names.flatMap((name) => log.chatsFrom(name));
    const allowed = RATE_BURST + Math.ceil(((Date.now() - started) / 1000) * RATE_LIMIT) + 1;
    expect(recycled(sioLog).length).toBeLessThanOrEqual(allowed);
    expect(recycled(rawLog)).toEqual(recycled(sioLog));
  });

  it('broadcasts nothing a raw client sends after the server closed it', async () => {
    const peer = await tcpWebSocketPeer(server.url, `/socket?name=ignores-close&token=${TOKEN}`);
    await eventually(() => sioLog.count('join', 'ignores-close') === 1, 'ignores-close to join');
    const after = Array.from({ length: 20 }, (_, i) => clientTextFrame(`after the close ${i}`));
    // A binary frame (close 1003), then text as if it had not seen the close, then its own close.
    peer.write(Buffer.concat([clientFrame(Opcode.Binary, Buffer.from([1])), ...after, clientCloseFrame()]));
    peer.resume(); // reads, so it sees the server end the connection after the close handshake
    await leaves('ignores-close');
    expect(rawLog.chatsFrom('ignores-close')).toEqual([]);
    expect(sioLog.chatsFrom('ignores-close')).toEqual([]);
  });

  it('keeps the chat going while connections pipeline requests they never read', async () => {
    const attackers = await Promise.all(
      ['/metrics', '/', '/metrics', '/', '/metrics'].map((path) => pipelineUnread(server.url, path, 2000)),
    );
    await probe(); // the chat meanwhile (and once more after this test)
    for (const attacker of attackers) expect(await attacker.drain()).toBeLessThanOrEqual(16);
  });

  it('keeps places for token holders while sessions without a token pile up', async () => {
    const handshakes = await pipelineInGroups(server.url, Array(MAX_CONNECTIONS).fill(getRequest(POLLING_HANDSHAKE)), '127.0.0.4');
    expect(handshakes.filter((answer) => sessionOf(answer) !== null).length).toBeLessThanOrEqual(unprovenShare(MAX_CONNECTIONS));
    const holder = await sio('token-holder');
    expect(await holder.chat('still room for token holders')).toMatchObject({ ok: true });
    await eventually(
      () => rawLog.chatsFrom('token-holder').length === 1 && sioLog.chatsFrom('token-holder').length === 1,
      'the token holder’s message at both observers',
    );
    holder.socket.disconnect();
    await leaves('token-holder');
  });
});

describe('the record kept by both observers', () => {
  it('holds every legitimate message, in order, and exactly one leave per departed peer', () => {
    for (const log of [rawLog, sioLog]) {
      expect(log.chatsFrom('legit')).toEqual(sent);
      for (const name of log.names()) {
        if (PERMANENT.includes(name)) continue;
        // Peers that gave no name are `guest-` and four random hex digits: two of the
        // hundreds here may draw the same one. Each still leaves once per join.
        const joins = name.startsWith('guest-') ? log.count('join', name) : 1;
        expect({ name, joins: log.count('join', name), leaves: log.count('leave', name) }).toEqual({ name, joins, leaves: joins });
      }
    }
  });
});
