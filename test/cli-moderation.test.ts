import { connectChat, type ChatClient } from '../client/connect';
import { BANNED, type ChatMessage, type Kicked } from '../server/protocol';
import { onCleanup } from './support/cleanup';
import { spawnChat, type ChatProcess } from './support/cli';
import { EventQueue } from './support/event-queue';
import { signToken } from './support/jwt';
import { startTestServer } from './support/server';

// Each test starts a client process (about a second on a busy machine).
jest.setTimeout(60_000);

const TIME = String.raw`\d\d:\d\d:\d\d`;
const SECRET = 'a-secret-of-at-least-32-bytes-for-hs256!';
const signer = { alg: 'HS256', key: new TextEncoder().encode(SECRET) };
const token = (claims: Record<string, unknown>) => signToken(signer, claims);
const jwtServer = () => startTestServer({ JWT_SECRET: SECRET });

const MOD = { sub: 'mo', name: 'Mo', role: 'moderator' };
const BEN = { sub: 'ben-1', name: 'Ben' };

/** A connectChat client with a token of `claims`, in the lobby once its own join notice came; what it hears. */
async function member(url: string, claims: Record<string, unknown>) {
  const socket: ChatClient = connectChat(url, { token: await token(claims), forceNew: true, reconnection: false });
  onCleanup('clients', () => socket.disconnect());
  const kicked = new EventQueue<Kicked>(`${String(claims.sub)} kicked`);
  const chats = new EventQueue<ChatMessage>(`${String(claims.sub)} chat`);
  socket.on('kicked', (event) => kicked.push(event));
  socket.on('chat', (message) => chats.push(message));
  await new Promise<void>((resolve, reject) => {
    socket.once('notice', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, kicked, chats };
}

/** Escapes `text` for a RegExp, except `TIME`, which stands for any time of day. */
const pattern = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/TIME/g, TIME);

/** Waits for `text` (TIME: any time of day) as a whole line printed after `from`; answers where it ends. */
async function printed(chat: ChatProcess, text: string, from = 0): Promise<number> {
  const match = await chat.stdout.until(new RegExp(`^${TIME} ${pattern(text)}$`, 'm'), { from });
  return match.index + match[0].length;
}

describe('terminal client: /kick, /ban and /mute', () => {
  it('a moderator acts on a member by the name shown, and each outcome is printed', async () => {
    const server = await jwtServer();
    const ben = await member(server.url, BEN);
    const chat = spawnChat(['--token', await token(MOD), server.url]);
    let at = await printed(chat, '* Mo joined (2 online)');

    chat.write('/help\n');
    at = await printed(chat, "-- /kick NAME [REASON] ends the connections of NAME to this room; they may come back", at);
    at = await printed(chat, '-- /ban NAME [MINUTES] [REASON] keeps NAME out of this room, for MINUTES or for good', at);

    // Ben was here before the terminal: known from the room's member list.
    chat.write('/kick Ben spam and eggs\n');
    expect(await ben.kicked.next()).toEqual({ room: 'lobby', reason: 'spam and eggs' });
    at = await printed(chat, '-- kicked Ben (ben-1) from room lobby: 1 connection ended', at);

    // Back again: known from the join notice.
    const back = await member(server.url, BEN);
    at = await printed(chat, '* Ben joined (2 online)', at);
    chat.write('/mute ben 5 flooding\n');
    at = await printed(chat, '-- muted Ben (ben-1) in room lobby for 5 minutes, until TIME: flooding', at);
    expect(await back.socket.emitWithAck('chat', 'hello?')).toEqual({ ok: false, error: 'muted' });

    chat.write('/ban ben-1\n');
    expect(await back.kicked.next()).toEqual({ room: 'lobby', reason: BANNED });
    at = await printed(chat, '-- banned Ben (ben-1) from room lobby for good', at);

    // Nobody shown by that name: taken for a user id.
    chat.write('/kick ghost\n');
    at = await printed(chat, '-- ghost has no connection to room lobby: nobody kicked', at);
    chat.write('/mute\n');
    at = await printed(chat, '!! /mute NAME [MINUTES] [REASON]: whom? A name shown in this room, or a user id', at);
    chat.write('/ban ghost 0\n');
    await printed(chat, '!! /ban NAME [MINUTES] [REASON]: MINUTES is a whole number from 1 (left out: for good)', at);

    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });

  it('two members of the same name: asks for a user id', async () => {
    const server = await jwtServer();
    await member(server.url, { sub: 'ann-1', name: 'Ann' });
    await member(server.url, { sub: 'ann-2', name: 'Ann' });
    const chat = spawnChat(['--token', await token(MOD), server.url]);
    let at = await printed(chat, '* Mo joined (3 online)');
    chat.write('/kick Ann\n');
    at = await printed(chat, '!! 2 members here are called Ann: name one by user id (ann-1, ann-2)', at);
    chat.write('/kick ann-2\n');
    await printed(chat, '-- kicked Ann (ann-2) from room lobby: 1 connection ended', at);
    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });

  it('a refusal is printed in words: no moderator role (forbidden), or the raw endpoint', async () => {
    const server = await jwtServer();
    const ben = await member(server.url, BEN);
    const ann = spawnChat(['--token', await token({ sub: 'ann', name: 'Ann' }), server.url]);
    await printed(ann, '* Ann joined (2 online)');
    const raw = spawnChat(['--raw', '--json', '--token', await token(MOD), server.url]);
    await printed(raw, '* Mo joined (3 online)');

    ann.write('/kick Ben\n');
    await printed(ann, '!! not kicked: only a moderator of this room may do that, and not to an admin or another moderator (forbidden)');
    ann.write('/ban Ben\n');
    await printed(ann, '!! not banned: only a moderator of this room may do that, and not to an admin or another moderator (forbidden)');
    raw.write('/mute ben-1\n');
    await printed(raw, '!! not muted: not available over the raw endpoint');

    // Ben never heard of it: a kick would have come before this message.
    ann.write('still there?\n');
    expect(await ben.chats.next()).toMatchObject({ text: 'still there?' });
    expect(ben.kicked.pending).toEqual([]);
    ann.end();
    raw.end();
    expect(await ann.exited).toEqual({ code: 0, signal: null });
    expect(await raw.exited).toEqual({ code: 0, signal: null });
  });
});

describe.each([
  ['socket.io', []],
  ['raw JSON', ['--raw', '--json']],
] as const)('terminal client over %s, moderated', (_wire, flags) => {
  it('muted: says so; kicked: says so and may go back with /join; banned: says so and stops', async () => {
    const server = await jwtServer();
    const mod = await member(server.url, MOD);
    const chat = spawnChat([...flags, '--token', await token(BEN), server.url]);
    let at = await printed(chat, '* Ben joined (2 online)');

    expect(await mod.socket.mute({ user: 'ben-1' })).toMatchObject({ ok: true });
    chat.write('let me speak\n');
    at = await printed(chat, '!! not sent: you are muted in this room (muted)', at);

    expect(await mod.socket.kick('ben-1', 'cool off')).toEqual({ ok: true, connections: 1 });
    at = await printed(chat, '!! kicked from room lobby (cool off); /join lobby goes back in, /quit leaves', at);
    chat.write('hello?\n');
    at = await printed(chat, '!! not sent: kicked from room lobby; /join lobby goes back in', at);
    chat.write('/join lobby\n');
    at = await printed(chat, '* Ben joined (2 online)', at);

    expect(await mod.socket.ban({ user: 'ben-1', reason: 'enough' })).toMatchObject({ ok: true });
    expect(await chat.exited).toEqual({ code: 1, signal: null });
    expect(chat.stderr.all).toBe('chat: banned from room lobby\n');
  });

  it('banned before it starts: says so and stops', async () => {
    const server = await jwtServer();
    const mod = await member(server.url, MOD);
    expect(await mod.socket.ban({ user: 'ben-1' })).toMatchObject({ ok: true });
    const chat = spawnChat([...flags, '--token', await token(BEN), server.url]);
    expect(await chat.exited).toEqual({ code: 1, signal: null });
    expect(chat.stderr.all).toBe('chat: the server refused the connection: banned from room lobby\n');
  });
});
