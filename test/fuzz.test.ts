/**
 * Randomized hostile input, for a bounded time: fast-check generates raw WebSocket frames
 * (any opcode, reserved bits, masking, lying lengths, truncation, plain garbage) and
 * Socket.IO packets (any type, any JSON, any event name), each sent by a fresh peer.
 * Throughout, the invariants of the fault suite hold: the server process stays up, two
 * observers receive every legitimate message in order, every peer that joined leaves
 * exactly once, and the server's memory stays bounded.
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { httpGet } from './support/http-upgrade';
import { connectEngineClient, tcpWebSocketPeer } from './support/peers';
import { connectRaw } from './support/raw-client';
import { eventually, RoomLog } from './support/room-log';
import { connectSio } from './support/sio-client';
import { spawnServer } from './support/spawn-server';

const TIME_LIMIT_MS = 12_000;
const MEMORY_GROWTH_LIMIT = 100 * 1024 * 1024;

interface FrameSpec {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
  length: 'true' | 'short' | 'long' | 'huge';
}

/** Encodes a WebSocket frame exactly as specified, lies included (RFC 6455 5.2). */
function encodeFrame(spec: FrameSpec): Buffer {
  const size = spec.payload.length;
  const claimed = { true: size, short: Math.max(0, size - 1), long: size + 10, huge: 2 ** 40 }[spec.length];
  const head = [(spec.fin ? 0x80 : 0) | (spec.rsv << 4) | spec.opcode];
  const maskBit = spec.masked ? 0x80 : 0;
  let lengthBytes: Buffer;
  if (claimed < 126) lengthBytes = Buffer.from([maskBit | claimed]);
  else if (claimed < 65536) lengthBytes = Buffer.from([maskBit | 126, claimed >> 8, claimed & 0xff]);
  else {
    lengthBytes = Buffer.alloc(9);
    lengthBytes[0] = maskBit | 127;
    lengthBytes.writeBigUInt64BE(BigInt(claimed), 1);
  }
  const mask = spec.masked ? randomBytes(4) : Buffer.alloc(0);
  const body = Buffer.from(spec.payload.map((byte, i) => (spec.masked ? byte ^ (mask[i % 4] as number) : byte)));
  return Buffer.concat([Buffer.from(head), lengthBytes, mask, body]);
}

const frameSpec: fc.Arbitrary<FrameSpec> = fc.record({
  fin: fc.boolean(),
  rsv: fc.integer({ min: 0, max: 7 }),
  opcode: fc.oneof(fc.constantFrom(0x1, 0x2, 0x8, 0x9, 0xa, 0x0), fc.integer({ min: 0, max: 15 })),
  masked: fc.constantFrom(true, true, true, false), // clients must mask; mostly they do
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.string({ maxLength: 100 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
  ),
  length: fc.constantFrom('true', 'true', 'true', 'short', 'long', 'huge'),
});

const rawAttack = fc.record({
  kind: fc.constant('raw' as const),
  chunks: fc.array(fc.oneof(frameSpec.map(encodeFrame), fc.uint8Array({ minLength: 1, maxLength: 64 }).map(Buffer.from)), {
    minLength: 1,
    maxLength: 4,
  }),
  linger: fc.boolean(),
});

const sioPacket = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.tuple(fc.constantFrom('0', '1', '2', '3', '4', '40', '41', '42', '43', '44', '45', '46', '5', '6'), fc.string({ maxLength: 40 })).map(
    ([prefix, rest]) => prefix + rest,
  ),
  fc.json({ maxDepth: 3 }).map((json) => `42${json}`),
  fc.tuple(fc.constantFrom('chat', 'error', 'history', 'notice', 'typing', ''), fc.jsonValue({ maxDepth: 3 })).map(
    ([event, value]) => `42${JSON.stringify([event, value])}`,
  ),
  fc.jsonValue({ maxDepth: 3 }).map((value) => `420${JSON.stringify(['chat', value])}`),
);

const sioAttack = fc.record({
  kind: fc.constant('sio' as const),
  packets: fc.array(sioPacket, { minLength: 1, maxLength: 5 }),
});

async function residentBytes(url: string): Promise<number> {
  const { body } = await httpGet(`${url}/metrics`);
  const line = body.split('\n').find((l) => l.startsWith('process_resident_memory_bytes '));
  return Number(line?.split(' ')[1]);
}

describe('randomized hostile input', () => {
  it('keeps the process up, the observers complete and in order, and memory bounded', async () => {
    // The legitimate sender probes after every run, faster than the default flood control.
    const server = await spawnServer({ MAX_MESSAGE_BYTES: '4096', HEARTBEAT_MS: '2000', RATE_LIMIT: '1000', RATE_BURST: '1000' });
    const rawLog = RoomLog.ofRaw(await connectRaw(server.url, { format: 'json', name: 'raw-observer' }));
    const sioLog = RoomLog.ofSio(await connectSio(server.url, { auth: { name: 'sio-observer' } }));
    const legit = await connectSio(server.url, { auth: { name: 'legit' } });
    const rssBefore = await residentBytes(server.url);
    const sent: string[] = [];
    let peer = 0;

    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(rawAttack, sioAttack), { minLength: 1, maxLength: 3 }), async (attacks) => {
        for (const attack of attacks) {
          const name = `fuzz-${peer++}`;
          if (attack.kind === 'raw') {
            const socket = await tcpWebSocketPeer(server.url, `/socket?name=${name}`);
            for (const chunk of attack.chunks) socket.write(chunk);
            if (attack.linger) await new Promise((resolve) => setTimeout(resolve, 20));
            socket.destroy();
          } else {
            const client = await connectEngineClient(server.url, { auth: { name } });
            for (const packet of attack.packets) client.ws.send(packet);
            client.ws.close();
          }
        }
        const text = `legit #${sent.length}`;
        sent.push(text);
        expect(await legit.chat(text)).toMatchObject({ ok: true });
        await eventually(() => rawLog.chatsFrom('legit').includes(text) && sioLog.chatsFrom('legit').includes(text), text);
        expect((await httpGet(`${server.url}/healthz`)).status).toBe(200);
      }),
      { interruptAfterTimeLimit: TIME_LIMIT_MS, numRuns: 100_000, markInterruptAsFailure: false },
    );

    expect(sent.length).toBeGreaterThan(10);
    expect(server.child.exitCode).toBeNull();
    for (const log of [rawLog, sioLog]) {
      // interruptAfterTimeLimit races the run in flight, so the last run may be cut after
      // its message was sent and before its echo was awaited: wait for that one too.
      await eventually(() => log.chatsFrom('legit').length >= sent.length, 'the last legit message');
      expect(log.chatsFrom('legit')).toEqual(sent);
      for (let i = 0; i < peer; i += 1) {
        const name = `fuzz-${i}`;
        await eventually(() => log.count('join', name) === log.count('leave', name), `${name} to leave`);
        expect(log.count('leave', name)).toBeLessThanOrEqual(1);
      }
    }
    expect((await residentBytes(server.url)) - rssBefore).toBeLessThan(MEMORY_GROWTH_LIMIT);
  }, 60_000);
});
