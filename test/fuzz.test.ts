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
import { httpGet, upgradeStatus } from './support/http-upgrade';
import { signToken } from './support/jwt';
import { connectEngineClient, tcpWebSocketPeer } from './support/peers';
import { connectRaw } from './support/raw-client';
import { RoomLog } from './support/room-log';
import { waitUntil } from './support/wait';
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
            // Deliberately timed, part of the attack's shape: vanish at once, or after giving
            // the server a moment to read what was sent. Nothing is waited for.
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
        await waitUntil(() => rawLog.chatsFrom('legit').includes(text) && sioLog.chatsFrom('legit').includes(text), text);
        expect((await httpGet(`${server.url}/healthz`)).status).toBe(200);
      }),
      { interruptAfterTimeLimit: TIME_LIMIT_MS, numRuns: 100_000, markInterruptAsFailure: false },
    );

    expect(sent.length).toBeGreaterThan(10);
    expect(server.child.exitCode).toBeNull();
    for (const log of [rawLog, sioLog]) {
      // interruptAfterTimeLimit races the run in flight, so the last run may be cut after
      // its message was sent and before its echo was awaited: wait for that one too.
      await waitUntil(() => log.chatsFrom('legit').length >= sent.length, 'the last legit message');
      expect(log.chatsFrom('legit')).toEqual(sent);
      for (let i = 0; i < peer; i += 1) {
        const name = `fuzz-${i}`;
        await waitUntil(() => log.count('join', name) === log.count('leave', name), `${name} to leave`);
        expect(log.count('leave', name)).toBeLessThanOrEqual(1);
      }
    }
    expect((await residentBytes(server.url)) - rssBefore).toBeLessThan(MEMORY_GROWTH_LIMIT);
  }, 60_000);
});

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Tokens made up whole: random text, and three segments of random JSON under any `alg`. */
const madeUpToken: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_-]{0,60}$/),
  fc
    .tuple(
      fc.oneof(
        fc.record({ alg: fc.constantFrom('none', 'None', 'HS256', 'HS384', 'HS512', 'RS256', 'ES256', 'EdDSA', 'PS256', ''), typ: fc.constant('JWT') }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      fc.oneof(
        fc.record({ sub: fc.string(), exp: fc.integer(), rooms: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      fc.oneof(fc.constant(''), fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64url'))),
    )
    .map(([header, payload, signature]) => `${b64(header)}.${b64(payload)}.${signature}`),
);

type Mutation =
  | { kind: 'flip'; at: number; char: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'alg'; alg: string }
  | { kind: 'payload'; claims: Record<string, unknown> }
  | { kind: 'swap' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), char: fc.nat(63) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  // Not whitespace or `=`: base64 decoding skips those (jose on Node 20 decodes with atob),
  // so put into the signature they leave the token as valid as it was.
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.string({ minLength: 1, maxLength: 4 }).filter((text) => !/[\s=]/.test(text)),
  }),
  fc.record({ kind: fc.constant('alg' as const), alg: fc.constantFrom('none', 'HS384', 'RS256', 'ES256', 'EdDSA', 'hs256') }),
  fc.record({
    kind: fc.constant('payload' as const),
    claims: fc.record({ sub: fc.string(), rooms: fc.constant(['*']), exp: fc.integer({ min: 0, max: 2 ** 40 }) }, { requiredKeys: [] }),
  }),
  fc.record({ kind: fc.constant('swap' as const) }),
);

/**
 * `token` changed by `m`. Never the last character of the signature: base64url leaves
 * spare bits there, so some changes to it decode to the same signature.
 */
function mutate(token: string, m: Mutation): string {
  const [head, body, signature] = token.split('.') as [string, string, string];
  switch (m.kind) {
    case 'flip': {
      const at = m.at % (token.length - 1);
      const char = BASE64URL[m.char] as string;
      const next = char === token[at] ? (token[at] === 'A' ? 'B' : 'A') : char;
      return token.slice(0, at) + next + token.slice(at + 1);
    }
    case 'truncate':
      return token.slice(0, m.at % token.length);
    case 'insert': {
      const at = m.at % (token.length + 1);
      return token.slice(0, at) + m.text + token.slice(at);
    }
    case 'alg':
      return `${b64({ alg: m.alg, typ: 'JWT' })}.${body}.${m.alg === 'none' ? '' : signature}`;
    case 'payload':
      return `${head}.${b64(m.claims)}.${signature}`;
    case 'swap':
      return `${body}.${head}.${signature}`;
  }
}

describe('randomized tokens against a JWT server', () => {
  it('answers every made-up or mutated token with 401 / unauthorized, and keeps serving valid clients', async () => {
    const secret = `fuzz-secret-${Date.now()}`;
    const key = { alg: 'HS256', key: new TextEncoder().encode(secret) };
    const server = await spawnServer({ JWT_SECRET: secret, RATE_LIMIT: '0' });
    const valid = await signToken(key, { sub: 'fuzzer', rooms: ['lobby'] });
    const sioOutcome = (auth: Record<string, unknown>) =>
      connectSio(server.url, { auth }).then(
        () => 'connected',
        (err: Error) => err.message,
      );
    let runs = 0;

    await fc.assert(
      fc.asyncProperty(
        fc.oneof(madeUpToken, mutation.map((m) => mutate(valid, m))),
        fc.oneof(fc.jsonValue({ maxDepth: 2 }), madeUpToken),
        async (token, sioToken) => {
          runs += 1;
          fc.pre(token !== valid);
          expect(await upgradeStatus(server.url, `/socket?token=${encodeURIComponent(token)}`)).toBe(401);
          expect(await sioOutcome({ token })).toBe('unauthorized');
          expect(await sioOutcome({ token: sioToken })).toBe('unauthorized');
        },
      ),
      { interruptAfterTimeLimit: 8_000, numRuns: 100_000, markInterruptAsFailure: false },
    );

    expect(runs).toBeGreaterThan(20);
    expect(server.child.exitCode).toBeNull();
    expect(await upgradeStatus(server.url, `/socket?token=${valid}`)).toBe(101);
    const client = await connectSio(server.url, { auth: { token: valid } });
    expect(await client.chat('still serving')).toMatchObject({ ok: true });
  }, 40_000);
});
