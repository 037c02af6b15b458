/**
 * JWT identity: JWT_SECRET, JWT_PUBLIC_KEY (RS256, ES256, EdDSA) and JWT_JWKS_URL, at
 * both handshakes (raw: the upgrade's HTTP status; Socket.IO: the connect_error), the
 * name and rooms claims, expiry during a connection, tokens kept out of the logs, and
 * the configuration errors of the real entry point.
 */
import { UnsecuredJWT } from 'jose';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { JwtVerifier } from '../server/access/jwt';
import { loadConfig } from '../server/config';
import type { Notice } from '../server/protocol';
import { startServer, type RunningServer } from '../server/process/server';
import { createLogger } from '../server/support/logger';
import { onCleanup } from './support/cleanup';
import { httpGet, upgradeStatus, UPGRADE_HEADERS } from './support/http-upgrade';
import { jwksKey, nowSeconds, signingKey, signToken, startJwksServer, type SigningAlgorithm, type SigningKey } from './support/jwt';
import { connectEngineClient } from './support/peers';
import { connectRaw } from './support/raw-client';
import { listOfRaw, listOfSio, noticesOfRaw, shown } from './support/member-list';
import { JOIN, LEAVE } from './support/seed-strings';
import type { RedisProcess } from '../tools/redis-process';
import { describeWithRedis, startRedis } from './support/redis';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';
import { runMain, spawnServer } from './support/spawn-server';
import { MULTI_PROCESS_START_MS } from './support/nodes';
import { waitUntil, within } from './support/wait';

// Some tests start server processes (a node on Redis, the server refusing its settings).
jest.setTimeout(60_000);

/** The raw upgrade's status for `token` (none: no `?token=`) in `room`'s path. */
function rawStatus(server: RunningServer, token: string | null, room = '', extra = ''): Promise<number> {
  const query = token === null ? '' : `?token=${encodeURIComponent(token)}`;
  return upgradeStatus(server.url, `/socket${room === '' ? '' : `/${room}`}${query}${extra}`);
}

/** 'connected', or the connect_error message the Socket.IO client got. */
async function sioOutcome(server: RunningServer, auth: Record<string, unknown>, room?: string): Promise<string> {
  try {
    await connectSio(server.url, { auth, ...(room === undefined ? {} : { room }) });
    return 'connected';
  } catch (err) {
    return (err as Error).message;
  }
}

/** The name of the next client (other than `own`) that `observer` sees join. */
async function nextJoinName(observer: SioTestClient, own: string): Promise<string> {
  for (;;) {
    const notice: Notice = await observer.notices.next();
    if (notice.kind === 'join' && notice.name !== own) return notice.name;
  }
}

/**
 * `segment` with its last character's lowest bit flipped: every signature here leaves
 * unused bits in its last base64url character, so the bytes read are the same.
 */
function withOtherUnusedBits(segment: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(segment.slice(-1));
  return `${segment.slice(0, -1)}${alphabet[last ^ 1] as string}`;
}

const ALGORITHMS: SigningAlgorithm[] = ['HS256', 'RS256', 'ES256', 'EdDSA'];

describe.each(ALGORITHMS)('JWT with %s', (alg) => {
  let key: SigningKey;
  let other: SigningKey;
  beforeAll(async () => {
    key = await signingKey(alg);
    other = await signingKey(alg);
  });

  it('admits a valid token at both handshakes, named by its claims, whatever name the client asks for', async () => {
    const server = await startTestServer(key.env);
    const observerToken = await signToken(key, { sub: 'observer' });
    const observer = await connectSio(server.url, { auth: { token: observerToken } });

    const alice = await signToken(key, { sub: 'user-1', name: ' Alice\u200b ' });
    const raw = await connectRaw(server.url, { token: alice, name: 'mallory' });
    expect(await nextJoinName(observer, 'observer')).toBe('Alice');
    raw.send('hello');
    expect(await raw.messages.next()).toBe(JOIN);

    const bob = await signToken(key, { sub: 'user-7' });
    const sio = await connectSio(server.url, { auth: { token: bob, name: 'mallory' } });
    expect(await nextJoinName(observer, 'observer')).toBe('user-7');
    expect(await sio.chat('hi')).toEqual(expect.objectContaining({ ok: true }));
  });

  it('refuses every bad token: raw 401 before the upgrade, Socket.IO connect_error unauthorized', async () => {
    const server = await startTestServer({ ...key.env, JWT_ISSUER: 'https://id.example', JWT_AUDIENCE: 'chat' });
    const good = { sub: 'user-1', iss: 'https://id.example', aud: 'chat' };
    expect(await rawStatus(server, await signToken(key, good))).toBe(101);
    expect(await sioOutcome(server, { token: await signToken(key, good) })).toBe('connected');

    const valid = await signToken(key, good);
    const [head, body, signature] = valid.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    const bad: Record<string, string | null> = {
      missing: null,
      empty: '',
      malformed: 'not.a.jwt',
      garbage: 'x'.repeat(20),
      'wrong signature': `${head}.${body}.${flipped}`,
      'other key': await signToken(other, good),
      'alg none': new UnsecuredJWT({ ...good, exp: nowSeconds() + 3600 }).encode(),
      expired: await signToken(key, { ...good, exp: nowSeconds() - 10 }),
      'not yet valid': await signToken(key, { ...good, nbf: nowSeconds() + 600 }),
      'wrong issuer': await signToken(key, { ...good, iss: 'https://evil.example' }),
      'no issuer': await signToken(key, { sub: 'user-1', aud: 'chat' }),
      'wrong audience': await signToken(key, { ...good, aud: 'other' }),
      'no sub': await signToken(key, { iss: good.iss, aud: good.aud }),
      'empty sub': await signToken(key, { ...good, sub: '' }),
      'rooms not an array': await signToken(key, { ...good, rooms: 'lobby' }),
      'rooms not strings': await signToken(key, { ...good, rooms: ['lobby', 7] }),
      // The valid signature, encoded other than as strict base64url: decoders that
      // forgive padding, spaces or stray low bits would read the same bytes.
      'signature padded with =': `${valid}${'='.repeat((4 - (signature.length % 4)) % 4)}`,
      'signature with a space': `${head}.${body}.${signature.slice(0, 4)} ${signature.slice(4)}`,
      'signature with other unused bits': `${head}.${body}.${withOtherUnusedBits(signature)}`,
      'header padded with =': `${head}=.${body}.${signature}`,
    };
    if (key.pem !== null) {
      // The classic confusion: HMAC keyed with the public key the server holds.
      bad['HS256 keyed with the public PEM'] = await signToken({ alg: 'HS256', key: new TextEncoder().encode(key.pem) }, good);
    } else {
      bad['HS384 with the secret'] = await signToken({ alg: 'HS384', key: key.key }, good);
      const rsa = await signingKey('RS256');
      bad['RS256'] = await signToken(rsa, good);
    }
    // Every answer, then one comparison: a failure names every token let in.
    const answers: Record<string, [number, string]> = {};
    for (const [what, token] of Object.entries(bad)) {
      answers[what] = [await rawStatus(server, token), await sioOutcome(server, token === null ? {} : { token })];
    }
    expect(answers).toEqual(Object.fromEntries(Object.keys(bad).map((what) => [what, [401, 'unauthorized']])));
    // Still serving.
    expect(await rawStatus(server, await signToken(key, good))).toBe(101);
  });

  it('ends a connection when its token expires: raw close 1008, Socket.IO io server disconnect', async () => {
    const server = await startTestServer(key.env);
    const exp = nowSeconds() + 2;
    const raw = await connectRaw(server.url, { token: await signToken(key, { sub: 'short', exp }) });
    const sio = await connectSio(server.url, { auth: { token: await signToken(key, { sub: 'short-sio', exp }) } });
    const keeper = await connectSio(server.url, { auth: { token: await signToken(key, { sub: 'long' }) } });
    const sioGone = new Promise<string>((resolve) => sio.socket.once('disconnect', resolve));
    expect(await raw.closed).toEqual({ code: 1008, reason: 'token expired' });
    expect(await sioGone).toBe('io server disconnect');
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    // The others stay.
    expect(keeper.socket.connected).toBe(true);
    expect(await keeper.chat('still here')).toEqual(expect.objectContaining({ ok: true }));
  });
});

describe('the form of a token', () => {
  it('is three strict base64url segments, or the token is refused as malformed before its signature is checked', async () => {
    const key = await signingKey('HS256');
    const config = loadConfig({ ...key.env, DATA_DIR: ':memory:' });
    if (config.jwt === null) throw new Error('JWT_SECRET set, yet no JWT settings');
    const verifier = new JwtVerifier(config.jwt);
    const valid = await signToken(key, { sub: 'form' });
    expect(await verifier.verify(valid)).toEqual(expect.objectContaining({ sub: 'form' }));
    const [head, body, signature] = valid.split('.') as [string, string, string];
    const malformed = [
      `${valid}=`,
      `${head}.${body}.${signature}==`,
      `${head}.${body}.${withOtherUnusedBits(signature)}`,
      `${head}.${body}.${signature.slice(0, 4)}\n${signature.slice(4)}`,
      `${head}.${body}.${signature.replace(/-/g, '+').replace(/_/g, '/')}+`,
      `${head}.${body}`,
      `${head}.${body}.${signature}.${signature}`,
      `${head}=.${body}.${signature}`,
      ` ${valid}`,
    ];
    const answers = await Promise.all(malformed.map(async (token) => [token, await verifier.verify(token)]));
    expect(answers).toEqual(malformed.map((token) => [token, 'malformed']));
  });
});

describe('a Socket.IO connection in two rooms, one token expiring', () => {
  it('disconnects that room only (io server disconnect); the other room keeps chatting over the same connection', async () => {
    const key = await signingKey('HS256');
    const server = await startTestServer(key.env);
    const observer = await connectSio(server.url, { auth: { token: await signToken(key, { sub: 'observer' }) } });
    const lobby = await connectSio(server.url, { auth: { token: await signToken(key, { sub: 'both' }) } });
    // The same Manager: one Engine.IO connection for both namespaces.
    const exp = nowSeconds() + 2;
    const short = lobby.socket.io.socket('/short', { auth: { token: await signToken(key, { sub: 'both', exp }) } });
    await within(new Promise<void>((resolve) => short.once('connect', () => resolve())), 'the second room to connect');
    const lobbyDisconnects: string[] = [];
    lobby.socket.on('disconnect', (reason) => lobbyDisconnects.push(reason));
    let engineClosed = false;
    lobby.socket.io.engine.once('close', () => (engineClosed = true));

    const shortGone = new Promise<string>((resolve) => short.once('disconnect', resolve));
    expect(await shortGone).toBe('io server disconnect');
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(lobbyDisconnects).toEqual([]);
    const ack = await within(lobby.chat('still here'), 'the ack in the room whose token is valid', 5_000);
    expect(ack).toEqual(expect.objectContaining({ ok: true }));
    expect((await observer.chats.next()).text).toBe('still here');
    expect(lobbyDisconnects).toEqual([]);
    expect(engineClosed).toBe(false);
    expect(lobby.socket.connected).toBe(true);
  });

  it('closes the connection when that was its only room, even from a client that would keep it open', async () => {
    const key = await signingKey('HS256');
    const server = await startTestServer(key.env);
    // A bare Engine.IO client: socket.io-client closes a connection left in no room itself.
    const bare = await connectEngineClient(server.url, { auth: { token: await signToken(key, { sub: 'bare', exp: nowSeconds() + 2 }) } });
    expect(await bare.packets.next()).toMatch(/^42\["history"/);
    for (;;) if ((await bare.packets.next()) === '41') break;
    await within(bare.closed, 'the server to close the connection');
  });
});

describe('a token that expires in 30 days', () => {
  it('is served by a server process that writes no TimeoutOverflowWarning, while the client is there or after it left', async () => {
    const key = await signingKey('HS256');
    const server = await spawnServer(key.env);
    // Past 2^31-1 ms (24.8 days): the longest a Node timer waits.
    const exp = nowSeconds() + 30 * 24 * 3600;
    const sio = await connectSio(server.url, { auth: { token: await signToken(key, { sub: 'monthly', exp }) } });
    const raw = await connectRaw(server.url, { token: await signToken(key, { sub: 'monthly-raw', exp }) });
    expect(await sio.chat('hello')).toEqual(expect.objectContaining({ ok: true }));
    raw.send('hello');
    expect(await raw.messages.next()).toBe(JOIN);
    sio.socket.close();
    await raw.close();
    const closes = () => server.lines.filter((line) => line.includes('"connection close"')).length;
    await waitUntil(() => closes() === 2, 'the server to log both leaves');
    // One more round trip after the leaves, from a client without expiry.
    const after = await connectSio(server.url, { auth: { token: await signToken(key, { sub: 'after' }) } });
    expect(await after.chat('still here')).toEqual(expect.objectContaining({ ok: true }));
    // Counted rather than matched: the failure then names how many, not all of stderr.
    expect(server.stderr().split('TimeoutOverflowWarning').length - 1).toBe(0);
  });
});

describeWithRedis('connection state recovery with JWT', () => {
  // Started once for the file: stopped after the servers that use it.
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });

  it('checks the token of a client coming back: a valid one recovers, an expired one is refused', async () => {
    const key = await signingKey('ES256');
    // Its own process, as every Redis test here: closing the Redis clients in the test's
    // process rejects the adapter's blocked read after the test.
    const server = await spawnServer({ ...key.env, REDIS_URL: redis.url }, MULTI_PROCESS_START_MS);
    const client = await connectSio(server.url, { auth: { token: await signToken(key, { sub: 'roamer' }) }, reconnection: true });
    expect(await client.histories.next()).toEqual([]);

    const back = new Promise<void>((resolve) => client.socket.once('connect', () => resolve()));
    client.socket.auth = { token: await signToken(key, { sub: 'roamer' }) };
    client.socket.io.engine.close();
    await back;
    expect(client.socket.recovered).toBe(true);

    // Its token expired while it was away.
    const refused = new Promise<Error>((resolve) => client.socket.once('connect_error', resolve));
    client.socket.auth = { token: await signToken(key, { sub: 'roamer', exp: nowSeconds() - 1 }) };
    client.socket.io.engine.close();
    expect((await refused).message).toBe('unauthorized');
    expect(client.socket.connected).toBe(false);
    client.socket.close();
  });
});

describe('the rooms claim', () => {
  it('lets a client into the rooms it names (exact or prefix) and refuses the others: 403 / forbidden', async () => {
    const key = await signingKey('HS256');
    const server = await startTestServer(key.env);
    const token = await signToken(key, { sub: 'u', rooms: ['team-*', 'general'] });
    expect(await rawStatus(server, token, 'team-a')).toBe(101);
    expect(await rawStatus(server, token, 'team-')).toBe(101);
    expect(await rawStatus(server, token, 'general')).toBe(101);
    expect(await rawStatus(server, token, 'general2')).toBe(403);
    expect(await rawStatus(server, token, '')).toBe(403); // the lobby
    expect(await rawStatus(server, token, 'team')).toBe(403);
    expect(await sioOutcome(server, { token }, 'team-b')).toBe('connected');
    expect(await sioOutcome(server, { token }, 'general')).toBe('connected');
    expect(await sioOutcome(server, { token }, 'other')).toBe('forbidden');
    expect(await sioOutcome(server, { token })).toBe('forbidden');

    const everywhere = await signToken(key, { sub: 'u', rooms: ['*'] });
    expect(await rawStatus(server, everywhere, 'anything')).toBe(101);
    expect(await sioOutcome(server, { token: everywhere })).toBe('connected');
    const nowhere = await signToken(key, { sub: 'u', rooms: [] });
    expect(await rawStatus(server, nowhere)).toBe(403);
    expect(await sioOutcome(server, { token: nowhere })).toBe('forbidden');
    // No claim: every room.
    const any = await signToken(key, { sub: 'u' });
    expect(await rawStatus(server, any, 'team-z')).toBe(101);
  });
});

describe('presence with JWT: one member per user', () => {
  it('lists two users who show the same name as two members, tells them apart in notices, and one leaving leaves the other listed', async () => {
    const key = await signingKey('HS256');
    const server = await startTestServer({ ...key.env, API_KEY: 'presence-key' });
    const room = 'alpha';
    const token = (sub: string, name: string) => signToken(key, { sub, name });
    const apiPresence = async () =>
      (await fetch(`${server.url}/api/rooms/${room}/presence`, { headers: { authorization: 'Bearer presence-key' } })).json() as Promise<unknown>;
    // The raw JSON watcher joins first: its list comes from notices alone.
    const rawWatcher = await connectRaw(server.url, { token: await token('user-rw', 'rw'), format: 'json' }, {}, { room });
    await waitUntil(() => listOfRaw(rawWatcher).members.length === 1, 'the raw watcher’s own join');
    const sioWatcher = await connectSio(server.url, { auth: { token: await token('user-sw', 'sw') }, room });
    const seed = await connectRaw(server.url, { token: await token('user-seed', 'seed') }, {}, { room });
    const alice = await connectSio(server.url, { auth: { token: await token('user-alice', 'alice') }, room });
    // Another user claims the same name: cleaned, `al\nice` is `alice` too.
    await connectRaw(server.url, { token: await token('user-mallory', 'al\nice'), format: 'json' }, {}, { room });

    const members = [
      { name: 'alice', user: 'user-alice', connections: 1 },
      { name: 'alice', user: 'user-mallory', connections: 1 },
      { name: 'rw', user: 'user-rw', connections: 1 },
      { name: 'seed', user: 'user-seed', connections: 1 },
      { name: 'sw', user: 'user-sw', connections: 1 },
    ];
    const newcomer = await connectSio(server.url, { auth: { token: await token('user-zed', 'zed') }, room });
    // Read where it is, not taken: the newcomer's list below starts from it.
    await waitUntil(() => newcomer.presences.pending.length > 0, 'the newcomer’s presence');
    expect(newcomer.presences.pending[0]).toEqual({ online: 5, members });
    const zed = { name: 'zed', user: 'user-zed', connections: 1 };
    expect(await apiPresence()).toEqual({ online: 6, members: [...members, zed] });

    // The lists the clients keep from notices have the two as well.
    const lists = () => [shown(listOfRaw(rawWatcher)), shown(listOfSio(sioWatcher)), shown(listOfSio(newcomer))];
    const everyone = ['alice (user-alice)', 'alice (user-mallory)', 'rw (user-rw)', 'seed (user-seed)', 'sw (user-sw)', 'zed (user-zed)'];
    // The lists, as they are when a wait gives up, say what went wrong.
    await waitUntil(() => lists().every((list) => list.join() === everyone.join()), 'every list to have both alices').catch(() => undefined);
    expect(lists()).toEqual([everyone, everyone, everyone]);
    expect(noticesOfRaw(rawWatcher).find((notice) => notice.user === 'user-mallory')).toEqual({
      kind: 'join',
      text: JOIN,
      name: 'alice',
      user: 'user-mallory',
      online: 5,
      at: expect.any(Number),
    });

    // The real alice leaves: the other stays listed, under its own user.
    alice.socket.disconnect();
    const rest = everyone.filter((row) => row !== 'alice (user-alice)');
    await waitUntil(() => lists().every((list) => list.join() === rest.join()), 'every list to have one alice left').catch(() => undefined);
    expect(lists()).toEqual([rest, rest, rest]);
    expect(noticesOfRaw(rawWatcher).at(-1)).toEqual({ kind: 'leave', text: LEAVE, name: 'alice', user: 'user-alice', online: 5, at: expect.any(Number) });
    expect(await apiPresence()).toEqual({ online: 5, members: [members[1], ...members.slice(2), zed] });
    // The seed's strings, byte for byte, whoever comes and goes.
    await waitUntil(() => seed.messages.pending.length === 5, 'five notices for the seed client');
    expect(seed.messages.pending).toEqual([JOIN, JOIN, JOIN, JOIN, LEAVE]);
  });
});

describe('JWT_JWKS_URL', () => {
  it('fetches the key set, and again for a token with a new kid (rotation)', async () => {
    const jwks = await startJwksServer();
    const first = await jwksKey('RS256', 'key-1');
    const second = await jwksKey('ES256', 'key-2');
    const third = await jwksKey('EdDSA', 'key-3');
    jwks.publish([first.jwk]);
    const server = await startTestServer({ JWT_JWKS_URL: jwks.url }, { jwks: { cooldownMs: 0 } });
    expect(await rawStatus(server, await signToken(first, { sub: 'a' }, { kid: 'key-1' }))).toBe(101);
    expect(await sioOutcome(server, { token: await signToken(first, { sub: 'a' }, { kid: 'key-1' }) })).toBe('connected');
    expect(jwks.requests).toBe(1);

    jwks.publish([first.jwk, second.jwk]);
    expect(await rawStatus(server, await signToken(second, { sub: 'b' }, { kid: 'key-2' }))).toBe(101);
    expect(jwks.requests).toBe(2);
    jwks.publish([second.jwk, third.jwk]);
    expect(await sioOutcome(server, { token: await signToken(third, { sub: 'c' }, { kid: 'key-3' }) })).toBe('connected');
    // Gone from the set: refused.
    expect(await rawStatus(server, await signToken(first, { sub: 'a' }, { kid: 'key-1' }))).toBe(401);
    // Names a kid of the set, signed with another key (and algorithm): refused.
    const unknown = await jwksKey('RS256', 'key-9');
    expect(await rawStatus(server, await signToken(unknown, { sub: 'x' }, { kid: 'key-2' }))).toBe(401);
  });

  it('answers 401 within the fetch timeout while the endpoint hangs, and other clients are unaffected', async () => {
    const jwks = await startJwksServer();
    const known = await jwksKey('ES256', 'known');
    jwks.publish([known.jwk]);
    const timeoutMs = 1_000;
    const server = await startTestServer({ JWT_JWKS_URL: jwks.url }, { jwks: { timeoutMs, cooldownMs: 0 } });
    const before = await connectSio(server.url, { auth: { token: await signToken(known, { sub: 'before' }, { kid: 'known' }) } });

    jwks.hang = true;
    const newcomer = await jwksKey('ES256', 'new');
    const started = Date.now();
    const refusedRaw = rawStatus(server, await signToken(newcomer, { sub: 'n' }, { kid: 'new' }));
    const refusedSio = sioOutcome(server, { token: await signToken(newcomer, { sub: 'n' }, { kid: 'new' }) });
    // A client that gives up while its token waits on the fetch.
    const quitter = request(new URL(`/socket?token=${await signToken(newcomer, { sub: 'q' }, { kid: 'new' })}`, server.url), {
      headers: UPGRADE_HEADERS,
    });
    quitter.on('error', () => {});
    quitter.end();
    quitter.once('socket', (socket) => socket.once('connect', () => setImmediate(() => quitter.destroy())));

    // Meanwhile a known kid gets in at once, and the connected client chats.
    expect(await rawStatus(server, await signToken(known, { sub: 'k' }, { kid: 'known' }))).toBe(101);
    expect(await sioOutcome(server, { token: await signToken(known, { sub: 'k2' }, { kid: 'known' }) })).toBe('connected');
    expect(await before.chat('still here')).toEqual(expect.objectContaining({ ok: true }));
    expect(Date.now() - started).toBeLessThan(timeoutMs);

    expect(await refusedRaw).toBe(401);
    expect(await refusedSio).toBe('unauthorized');
    expect(Date.now() - started).toBeLessThan(timeoutMs + 1_500);
    jwks.hang = false;
    expect(await rawStatus(server, await signToken(newcomer, { sub: 'n' }, { kid: 'new' }))).toBe(401); // not published
    jwks.publish([known.jwk, newcomer.jwk]);
    expect(await rawStatus(server, await signToken(newcomer, { sub: 'n' }, { kid: 'new' }))).toBe(101);
  });
});

describe('tokens in logs', () => {
  it('never appear, whatever the handshake and its outcome', async () => {
    const key = await signingKey('HS256');
    const lines: string[] = [];
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      DATA_DIR: ':memory:',
      ALLOWED_HOSTS: '127.0.0.1',
      ...key.env,
    });
    const logger = createLogger(config.logLevel, { write: (line: string) => void lines.push(line) });
    const server = await startServer(config, { logger, shutdownGraceMs: 1_000 });
    onCleanup('servers', () => server.close());

    const tokens = await Promise.all([
      signToken(key, { sub: 'raw-ok', name: 'raw-ok' }),
      signToken(key, { sub: 'sio-ok' }),
      signToken(key, { sub: 'expired', exp: nowSeconds() - 5 }),
      signToken(key, { sub: 'forbidden', rooms: ['elsewhere'] }),
      signToken(key, { sub: 'wrong-host' }),
      signToken(key, { sub: 'http' }),
    ]);
    const [rawOk, sioOk, expired, forbidden, wrongHost, http] = tokens as [string, string, string, string, string, string];
    const raw = await connectRaw(server.url, { token: rawOk });
    raw.send('hello');
    await raw.messages.take(2);
    await connectSio(server.url, { auth: { token: sioOk } });
    expect(await rawStatus(server, expired)).toBe(401);
    expect(await rawStatus(server, forbidden)).toBe(403);
    expect(await sioOutcome(server, { token: expired })).toBe('unauthorized');
    expect(await upgradeStatus(server.url, `/socket?token=${wrongHost}`, { Host: 'evil.example' })).toBe(421);
    expect((await httpGet(`${server.url}/nothing?token=${http}`, { Host: 'evil.example' })).status).toBe(421);
    await raw.close();

    const log = lines.join('\n');
    expect(log).toContain('upgrade refused: token');
    expect(log).toContain('upgrade refused: host');
    for (const token of tokens) {
      expect(log).not.toContain(token);
      // Nor its signature alone (a line that cut the token short).
      expect(log).not.toContain(token.split('.')[2]);
    }
  });
});

describe('JWT configuration errors stop the real entry point with exit code 2', () => {
  it.each([
    [{ JWT_SECRET: 'k', CHAT_TOKEN: 't' }, ['CHAT_TOKEN', 'JWT_SECRET']],
    [{ JWT_SECRET: 'k', JWT_JWKS_URL: 'http://127.0.0.1:1/jwks' }, ['JWT_SECRET', 'JWT_JWKS_URL']],
    [{ JWT_PUBLIC_KEY: '/nonexistent/chat-key.pem' }, ['JWT_PUBLIC_KEY', '/nonexistent/chat-key.pem']],
  ])('%j', async (env, named) => {
    const run = runMain({ PORT: '0', HOST: '127.0.0.1', ...env });
    expect((await run.exited).code).toBe(2);
    for (const text of named) expect(run.stderr()).toContain(text);
    expect(run.stderr()).not.toMatch(/=("k"|"t")/);
  });
});

describe('the snippets of docs/authentication.md', () => {
  it('sign a token with jose in Node that both kinds of client get in with, under its name', async () => {
    const doc = readFileSync(path.join(__dirname, '..', 'docs', 'authentication.md'), 'utf8');
    const [sign, consoleSnippet] = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    const secret = 'readme-secret';
    const output = execFileSync(process.execPath, ['--input-type=module', '--eval', sign ?? ''], {
      cwd: path.join(__dirname, '..'),
      env: { PATH: process.env.PATH ?? '', JWT_SECRET: secret },
      encoding: 'utf8',
    });
    const token = output.trim();
    expect(token.split('.')).toHaveLength(3);
    expect(consoleSnippet).toContain('ws://localhost:8000/socket?token=PASTE_THE_TOKEN_HERE');

    const server = await startTestServer({ JWT_SECRET: secret });
    const observer = await connectSio(server.url, { auth: { token }, room: 'team-a' });
    await connectRaw(server.url, { token }, {}, { room: 'team-a' });
    expect(await nextJoinName(observer, 'nobody')).toBe('Alice');
    expect(await rawStatus(server, token, 'elsewhere')).toBe(403);
  });
});
