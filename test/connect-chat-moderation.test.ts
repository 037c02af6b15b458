import { connectChat, nodeConnectors, type ChatClient } from '../client/connect';
import { Backoff } from '../client/shared/backoff';
import {
  ChatRefusedError,
  ChatSession,
  RequestFailure,
  type SessionHandlers,
  type SessionStatus,
  type TransportKind,
} from '../client/shared/session';
import { BANNED, ModerationError, type ChatMessage, type Kicked, type Notice } from '../server/protocol';
import { onCleanup } from './support/cleanup';
import { EventQueue } from './support/event-queue';
import { signToken } from './support/jwt';
import { startTestServer } from './support/server';

const SECRET = 'a-secret-of-at-least-32-bytes-for-hs256!';
const signer = { alg: 'HS256', key: new TextEncoder().encode(SECRET) };
const token = (claims: Record<string, unknown>) => signToken(signer, claims);
const jwtServer = () => startTestServer({ JWT_SECRET: SECRET });

const MOD = { sub: 'mo', name: 'Mo', role: 'moderator' };
const BEN = { sub: 'ben', name: 'Ben' };

/** A connectChat client with a token of `claims`, in the room once its own join notice came; what it hears. */
async function member(url: string, claims: Record<string, unknown>, room?: string) {
  const socket: ChatClient = connectChat(url, { token: await token(claims), room, forceNew: true, reconnection: false });
  onCleanup('clients', () => socket.disconnect());
  const kicked = new EventQueue<Kicked>(`${String(claims.sub)} kicked`);
  const disconnects = new EventQueue<string>(`${String(claims.sub)} disconnect`);
  const chats = new EventQueue<ChatMessage>(`${String(claims.sub)} chat`);
  socket.on('kicked', (event) => kicked.push(event));
  socket.on('disconnect', (reason) => disconnects.push(reason));
  socket.on('chat', (message) => chats.push(message));
  await new Promise<void>((resolve, reject) => {
    socket.once('notice', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, kicked, disconnects, chats };
}

/** Why a connectChat client with a token of `claims` could not connect. */
async function refusal(url: string, claims: Record<string, unknown>, room?: string): Promise<string> {
  const socket = connectChat(url, { token: await token(claims), room, forceNew: true, reconnection: false });
  onCleanup('clients', () => socket.disconnect());
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected')));
    socket.once('connect_error', (err) => resolve(err.message));
  });
}

describe('connectChat: kick, ban and mute with acks', () => {
  it('a moderator kicks a user: they hear kicked, then are disconnected; they may come back', async () => {
    const server = await jwtServer();
    const mod = await member(server.url, MOD);
    const ben = await member(server.url, BEN);

    expect(await mod.socket.kick('ben', 'spam')).toEqual({ ok: true, connections: 1 });
    expect(await ben.kicked.next()).toEqual({ room: 'lobby', reason: 'spam' });
    expect(await ben.disconnects.next()).toBe('io server disconnect');
    expect(mod.socket.connected).toBe(true);

    const again = await member(server.url, BEN);
    expect(again.socket.connected).toBe(true);
    // Nobody of that user left in another room: nothing to end.
    expect(await mod.socket.kick('nobody')).toEqual({ ok: true, connections: 0 });
  });

  it('a moderator bans a user from the room: the ack has the ban, their connection ends, their handshakes are refused', async () => {
    const server = await jwtServer();
    const mod = await member(server.url, MOD);
    const ben = await member(server.url, BEN);

    expect(await mod.socket.ban({ user: 'ben', reason: 'trolling' })).toEqual({
      ok: true,
      ban: { id: expect.any(String), kind: 'ban', user: 'ben', room: 'lobby', until: null, reason: 'trolling', at: expect.any(Number), by: 'mo' },
    });
    expect(await ben.kicked.next()).toEqual({ room: 'lobby', reason: BANNED });
    expect(await ben.disconnects.next()).toBe('io server disconnect');
    expect(await refusal(server.url, BEN)).toBe(BANNED);
    // The ban is this room's: another room lets them in.
    const elsewhere = await member(server.url, BEN, 'ops');
    expect(elsewhere.socket.connected).toBe(true);
  });

  it('a moderator mutes a user until a time: they stay and read, their chats are refused muted', async () => {
    const server = await jwtServer();
    const mod = await member(server.url, MOD);
    const ben = await member(server.url, BEN);
    const until = Date.now() + 600_000;

    expect(await mod.socket.mute({ user: 'ben', until, reason: 'flooding' })).toEqual({
      ok: true,
      ban: { id: expect.any(String), kind: 'mute', user: 'ben', room: 'lobby', until, reason: 'flooding', at: expect.any(Number), by: 'mo' },
    });
    expect(await ben.socket.emitWithAck('chat', 'may I?')).toEqual({ ok: false, error: 'muted' });
    await mod.socket.emitWithAck('chat', 'you may read');
    expect(await ben.chats.next()).toMatchObject({ name: 'Mo', text: 'you may read' });
    expect(ben.kicked.pending).toEqual([]);
  });

  it('refuses a user without the role (forbidden), a moderator outside their rooms, and a malformed request', async () => {
    const server = await jwtServer();
    const ann = await member(server.url, { sub: 'ann', name: 'Ann' });
    const ben = await member(server.url, BEN);
    const mod = await member(server.url, { ...MOD, rooms: ['lobby'] });

    expect(await ann.socket.kick('ben', 'mine')).toEqual({ ok: false, error: ModerationError.Forbidden });
    expect(await ann.socket.ban({ user: 'ben' })).toEqual({ ok: false, error: ModerationError.Forbidden });
    expect(await ann.socket.mute({ user: 'ben' })).toEqual({ ok: false, error: ModerationError.Forbidden });
    // A moderator acts in the rooms of their token; every room at once is an admin's.
    expect(await mod.socket.ban({ user: 'ben', room: 'ops' })).toEqual({ ok: false, error: ModerationError.Forbidden });
    expect(await mod.socket.ban({ user: 'ben', room: null })).toEqual({ ok: false, error: ModerationError.Forbidden });
    expect(await mod.socket.mute({ user: 'ben', until: Date.now() - 1_000 })).toEqual({ ok: false, error: ModerationError.Invalid });

    // Nothing happened to ben: a kick would have reached ben before this chat.
    await ann.socket.emitWithAck('chat', 'still here?');
    expect(await ben.chats.next()).toMatchObject({ text: 'still here?' });
    expect(ben.kicked.pending).toEqual([]);
    expect(await ben.socket.emitWithAck('chat', 'yes')).toMatchObject({ ok: true });
  });
});

/** A ChatSession with a token of `claims`, retrying at once on any loss it may retry, started; what its handlers heard. */
async function session(url: string, transport: TransportKind, claims: Record<string, unknown>) {
  const statuses = new EventQueue<SessionStatus>(`${transport} status`);
  const kicked = new EventQueue<Kicked>(`${transport} kicked`);
  const notices = new EventQueue<Notice>(`${transport} notice`);
  const handlers: SessionHandlers = {
    status: (status) => statuses.push(status),
    chat: () => {},
    notice: (notice) => notices.push(notice),
    history: () => {},
    presence: () => {},
    typing: () => {},
    seedFrame: () => {},
    kicked: (event) => kicked.push(event),
  };
  const chat = new ChatSession({
    url,
    transport,
    rawFormat: 'json',
    token: await token(claims),
    retry: 'always',
    connectors: nodeConnectors,
    handlers,
    backoff: new Backoff(10, 50),
  });
  onCleanup('clients', () => chat.close());
  chat.start();
  return { chat, statuses, kicked, notices };
}

/** Waits for the session's statuses up to `connected`. */
async function connected(statuses: EventQueue<SessionStatus>): Promise<void> {
  expect(await statuses.next()).toEqual({ state: 'connecting', attempt: 0 });
  expect(await statuses.next()).toEqual({ state: 'connected' });
}

describe('ChatSession: moderation requests', () => {
  it('over Socket.IO: kick, ban and mute answer with the server\'s acks, refusals included', async () => {
    const server = await jwtServer();
    const mod = await session(server.url, 'socket.io', MOD);
    await mod.notices.next();
    const ben = await member(server.url, BEN);
    const ann = await member(server.url, { sub: 'ann', name: 'Ann' });

    expect(await mod.chat.mute({ user: 'ann' })).toMatchObject({ ok: true, ban: { kind: 'mute', user: 'ann', room: 'lobby', until: null } });
    expect(await ann.socket.emitWithAck('chat', 'hm')).toEqual({ ok: false, error: 'muted' });
    expect(await mod.chat.kick('ben', 'go')).toEqual({ ok: true, connections: 1 });
    expect(await ben.kicked.next()).toEqual({ room: 'lobby', reason: 'go' });
    expect(await mod.chat.ban({ user: 'ann', room: null })).toEqual({ ok: false, error: ModerationError.Forbidden });
  });

  it('over the raw endpoint: each rejects saying so, and nothing reaches the server', async () => {
    const server = await jwtServer();
    const mod = await session(server.url, 'raw', MOD);
    await mod.notices.next();
    const ben = await member(server.url, BEN);
    await expect(mod.chat.kick('ben')).rejects.toThrow(RequestFailure.RawEndpoint);
    await expect(mod.chat.ban({ user: 'ben' })).rejects.toThrow(RequestFailure.RawEndpoint);
    await expect(mod.chat.mute({ user: 'ben' })).rejects.toThrow(RequestFailure.RawEndpoint);
    expect(await ben.socket.emitWithAck('chat', 'unharmed')).toMatchObject({ ok: true });
    expect(ben.kicked.pending).toEqual([]);
  });
});

describe.each(['socket.io', 'raw'] as const)('ChatSession over %s when moderated', (transport) => {
  it('kicked: says who and why, ends without retrying, and a new session may come back', async () => {
    const server = await jwtServer();
    const mod = await member(server.url, MOD);
    const ben = await session(server.url, transport, BEN);
    await connected(ben.statuses);
    await ben.notices.next();

    expect(await mod.socket.kick('ben', 'cool off')).toEqual({ ok: true, connections: 1 });
    expect(await ben.kicked.next()).toEqual({ room: 'lobby', reason: 'cool off' });
    // With retry 'always' and a 10 ms backoff, a loss it may retry would be `reconnecting` next.
    expect(await ben.statuses.next()).toEqual({ state: 'failed', reason: 'kicked from room lobby (cool off)' });
    await expect(ben.chat.send('still here?')).rejects.toThrow('the session is closed');

    const back = await session(server.url, transport, BEN);
    await connected(back.statuses);
    expect(await back.notices.next()).toMatchObject({ kind: 'join', user: 'ben' });
  });

  it('banned: says so, ends without retrying, and a new session is refused for good', async () => {
    const server = await jwtServer();
    const mod = await member(server.url, MOD);
    const ben = await session(server.url, transport, BEN);
    await connected(ben.statuses);
    await ben.notices.next();

    expect(await mod.socket.ban({ user: 'ben', reason: 'enough' })).toMatchObject({ ok: true });
    expect(await ben.kicked.next()).toEqual({ room: 'lobby', reason: BANNED });
    expect(await ben.statuses.next()).toEqual({ state: 'failed', reason: 'banned from room lobby' });

    const again = await session(server.url, transport, BEN);
    expect(await again.statuses.next()).toEqual({ state: 'connecting', attempt: 0 });
    expect(await again.statuses.next()).toEqual({ state: 'failed', reason: 'the server refused the connection: banned from room lobby' });
    expect(again.kicked.pending).toEqual([]);
  });

  it('muted: a message is refused (muted) and the session stays, its requests answered', async () => {
    const server = await jwtServer();
    const mod = await member(server.url, MOD);
    const ben = await session(server.url, transport, BEN);
    await connected(ben.statuses);
    await ben.notices.next();

    expect(await mod.socket.mute({ user: 'ben' })).toMatchObject({ ok: true });
    const refused = ben.chat.send('let me speak');
    await expect(refused).rejects.toThrow(ChatRefusedError);
    await expect(refused).rejects.toMatchObject({ code: 'muted' });
    await expect(ben.chat.send('please')).rejects.toMatchObject({ code: 'muted' });
    expect(await ben.chat.older()).toEqual({ ok: true, messages: [], more: false });
    expect(ben.statuses.pending).toEqual([]);
  });
});
