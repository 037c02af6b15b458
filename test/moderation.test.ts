/**
 * Moderation from a moderator's own Socket.IO client (issue #22): kick, ban and mute with
 * acks, what each does to both kinds of client, and the refusals (not a moderator,
 * outside the token's rooms, against an admin, malformed). One node; the API's routes and
 * two nodes are in api-moderation.test.ts.
 */
import { BANNED, ModerationClose, ModerationError, type BanAck } from '../server/protocol';
import { signToken } from './support/jwt';
import { connectRaw } from './support/raw-client';
import { departures, nextFrameOf, rawRequest } from './support/room-events';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

const SECRET = 'a-secret-of-at-least-32-bytes-for-hs256!';
const signer = { alg: 'HS256', key: new TextEncoder().encode(SECRET) };
const token = (claims: Record<string, unknown>) => signToken(signer, claims);

async function setup() {
  const server = await startTestServer({ JWT_SECRET: SECRET, DATA_DIR: ':memory:' });
  const as = async (sub: string, extra: Record<string, unknown> = {}, room = 'alpha', localAddress?: string) =>
    connectSio(server.url, { auth: { token: await token({ sub, name: sub, ...extra }) }, room, ...(localAddress ? { localAddress } : {}) });
  return { server, as };
}

test('a moderator kicks a user from the room: Socket.IO hears kicked, raw closes 4001; they may come back', async () => {
  const { server, as } = await setup();
  const mod = await as('mo', { role: 'moderator', rooms: ['alpha'] });
  const troll = await as('troll');
  const out = departures(troll);
  const raw = await connectRaw(server.url, { token: await token({ sub: 'troll', name: 'troll' }) }, {}, { room: 'alpha' });
  const bystander = await as('ann');
  expect(await mod.socket.emitWithAck('kick', { user: 'troll', reason: 'spam' })).toEqual({ ok: true, connections: 2 });
  expect(await out.kicked.next()).toEqual({ room: 'alpha', reason: 'spam' });
  expect(await out.gone.next()).toBe('io server disconnect');
  expect(await raw.closed).toEqual({ code: ModerationClose.Kicked, reason: 'spam' });
  expect(await bystander.chat('still here')).toMatchObject({ ok: true });
  // A kick is not a ban.
  const back = await as('troll');
  expect(await back.chat('back')).toMatchObject({ ok: true });
});

test('a ban by user ends its connections in the room and refuses its handshakes there, not elsewhere', async () => {
  const { server, as } = await setup();
  const mod = await as('mo', { role: 'moderator', rooms: ['alpha', 'beta'] });
  const troll = await as('troll');
  const out = departures(troll);
  const raw = await connectRaw(server.url, { token: await token({ sub: 'troll', name: 'troll' }), format: 'json' }, {}, { room: 'alpha' });
  const answer: BanAck = await mod.socket.emitWithAck('ban', { user: 'troll', reason: 'abuse' });
  expect(answer).toEqual({ ok: true, ban: expect.objectContaining({ kind: 'ban', user: 'troll', room: 'alpha', until: null, reason: 'abuse', by: 'mo' }) });
  expect(await out.kicked.next()).toEqual({ room: 'alpha', reason: BANNED });
  expect(await raw.closed).toEqual({ code: ModerationClose.Banned, reason: BANNED });
  await expect(as('troll')).rejects.toThrow(BANNED);
  await expect(connectRaw(server.url, { token: await token({ sub: 'troll', name: 'troll' }) }, {}, { room: 'alpha' })).rejects.toThrow('HTTP 403');
  const elsewhere = await as('troll', {}, 'beta');
  expect(await elsewhere.chat('in beta')).toMatchObject({ ok: true });
});

test('a mute: the user reads but its posts reach nobody, on both wires; edits too', async () => {
  const { server, as } = await setup();
  const mod = await as('mo', { role: 'moderator', rooms: ['alpha'] });
  const quiet = await as('quiet');
  const earlier = await quiet.chat('before the mute');
  if (!earlier.ok) throw new Error(earlier.error);
  const rawJson = await connectRaw(server.url, { token: await token({ sub: 'quiet', name: 'quiet' }), format: 'json' }, {}, { room: 'alpha' });
  const rawText = await connectRaw(server.url, { token: await token({ sub: 'quiet', name: 'quiet' }) }, {}, { room: 'alpha' });
  const listener = await connectRaw(server.url, { token: await token({ sub: 'lis', name: 'lis' }) }, {}, { room: 'alpha' });
  await listener.messages.next(); // its join
  expect(await mod.socket.emitWithAck('mute', { user: 'quiet', reason: 'cool down' })).toMatchObject({ ok: true, ban: { kind: 'mute', user: 'quiet' } });
  expect(await quiet.chat('muted?')).toEqual({ ok: false, error: 'muted' });
  expect(await quiet.socket.emitWithAck('edit', { id: earlier.id, text: 'changed' })).toEqual({ ok: false, error: 'muted' });
  rawJson.send('from raw json');
  expect(await nextFrameOf(rawJson, 'error')).toEqual({ type: 'error', error: 'muted' });
  rawText.send('from raw text');
  // Still in the room, still reading: the moderator's message reaches them; the listener got none of theirs.
  expect(await mod.chat('a word from the moderator')).toMatchObject({ ok: true });
  await listener.messages.expectNothingBefore((text) => text === 'a word from the moderator', 'the moderator’s message');
  expect(await nextFrameOf(rawJson, 'chat')).toMatchObject({ text: 'a word from the moderator' });
});

test('refusals: not a moderator, outside the token’s rooms, every room, an admin, malformed requests', async () => {
  const { as } = await setup();
  const mod = await as('mo', { role: 'moderator', rooms: ['alpha'] });
  const user = await as('ann');
  await as('boss', { role: 'admin' });
  const forbidden = { ok: false, error: ModerationError.Forbidden };
  const invalid = { ok: false, error: ModerationError.Invalid };
  expect(await user.socket.emitWithAck('kick', { user: 'mo' })).toEqual(forbidden);
  expect(await user.socket.emitWithAck('ban', { user: 'mo' })).toEqual(forbidden);
  expect(await mod.socket.emitWithAck('ban', { user: 'ann', room: 'beta' })).toEqual(forbidden);
  expect(await mod.socket.emitWithAck('ban', { user: 'ann', room: null })).toEqual(forbidden);
  expect(await mod.socket.emitWithAck('ban', { user: 'boss' })).toEqual(forbidden);
  expect(await mod.socket.emitWithAck('kick', { user: 'boss' })).toEqual(forbidden);
  expect(await mod.socket.emitWithAck('ban', { user: 'ann', until: Date.now() - 1_000 })).toEqual(invalid);
  expect(await mod.socket.emitWithAck('ban', { ip: '300.1.2.3' })).toEqual(invalid);
  expect(await mod.socket.emitWithAck('ban', { user: 'ann', ip: '127.0.0.1' })).toEqual(invalid);
  expect(await mod.socket.emitWithAck('ban', {})).toEqual(invalid);
  expect(await mod.socket.emitWithAck('ban', { user: 'ann', room: '../etc' })).toEqual(invalid);
  expect(await mod.socket.emitWithAck('kick', { reason: 'no user' })).toEqual(invalid);
  // Nobody was affected.
  expect(await user.chat('fine')).toMatchObject({ ok: true });
});

test('an admin bans an address in every room; another address is not affected', async () => {
  const { server, as } = await setup();
  const admin = await as('boss', { role: 'admin' });
  const fromTwo = await as('two', {}, 'alpha', '127.0.0.2');
  const out = departures(fromTwo);
  const fromOne = await as('one');
  expect(await admin.socket.emitWithAck('ban', { ip: '127.0.0.2', room: null, reason: 'bot farm' })).toMatchObject({ ok: true, ban: { ip: '127.0.0.2', room: null } });
  expect(await out.kicked.next()).toEqual({ room: 'alpha', reason: BANNED });
  await expect(as('other', {}, 'gamma', '127.0.0.2')).rejects.toThrow(BANNED);
  await expect(connectRaw(server.url, { token: await token({ sub: 'x', name: 'x' }) }, {}, { room: 'gamma', localAddress: '127.0.0.2' })).rejects.toThrow('HTTP 403');
  expect(await fromOne.chat('unaffected')).toMatchObject({ ok: true });
});

test('a moderator on a raw JSON connection kicks and mutes by request frames, answered by ref', async () => {
  const { server, as } = await setup();
  const raw = await connectRaw(server.url, { token: await token({ sub: 'mo', name: 'mo', role: 'moderator', rooms: ['alpha'] }), format: 'json', ack: '1' }, {}, { room: 'alpha' });
  const troll = await as('troll');
  const out = departures(troll);
  expect(await rawRequest(raw, { type: 'kick', user: 'troll', reason: 'spam' })).toEqual({ type: 'ack', ref: expect.any(String), connections: 1 });
  expect(await out.kicked.next()).toEqual({ room: 'alpha', reason: 'spam' });
  expect(await rawRequest(raw, { type: 'mute', user: 'troll' })).toMatchObject({ type: 'ack', ban: { kind: 'mute', user: 'troll', room: 'alpha' } });
  expect(await rawRequest(raw, { type: 'ban', user: 'troll', room: 'beta' })).toEqual({ type: 'error', error: ModerationError.Forbidden, ref: expect.any(String) });
  const back = await as('troll');
  expect(await back.chat('let me talk')).toEqual({ ok: false, error: 'muted' });
});
