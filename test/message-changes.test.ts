/**
 * Edit, delete, reactions and read markers (issue #21), with real clients of both kinds
 * in one room: the author's ack, everyone's event, the history a newcomer gets, and the
 * seed's text clients hearing none of it. Each store the server may use by itself.
 */
import { ActionError, type ChatMessage, type HistoryMessage } from '../server/protocol';
import { signToken } from './support/jwt';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { changeQueues, nextFrameOf, rawRequest } from './support/room-events';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

const STORES: [string, Record<string, string>][] = [
  ['memory', { DATA_DIR: ':memory:' }],
  ['SQLite', {}],
];

/** The next text frame of a seed client: after `sentinel` was sent, it must be the sentinel (nothing came between). */
async function onlySentinelFollows(seed: RawTestClient, sentinel: string): Promise<void> {
  expect(await seed.messages.next()).toBe(sentinel);
}

describe.each(STORES)('changes to messages (%s store)', (_store, env) => {
  test('the author edits a message: ack, event for both kinds, latest text in history; seed clients hear nothing', async () => {
    const server = await startTestServer(env);
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    const bobChanges = changeQueues(bob.socket, 'bob');
    const json = await connectRaw(server.url, { format: 'json' });
    const seed = await connectRaw(server.url);
    await seed.messages.next(); // its join

    const sent = await alice.chat('helo wrold');
    if (!sent.ok) throw new Error(sent.error);
    await seed.messages.next(); // the chat itself
    expect(await alice.socket.emitWithAck('edit', { id: sent.id, text: 'hello world' })).toEqual({ ok: true, version: 1 });

    const edit = await bobChanges.edits.next();
    expect(edit).toMatchObject({ id: sent.id, text: 'hello world', version: 1 });
    expect(typeof edit.editedAt).toBe('number');
    expect(await nextFrameOf(json, 'edit')).toEqual({ type: 'edit', ...edit });

    await alice.chat('sentinel');
    await onlySentinelFollows(seed, 'sentinel');

    const carol = await connectSio(server.url, { auth: { name: 'carol' } });
    const history = await carol.histories.next();
    expect(history[0]).toMatchObject({ id: sent.id, text: 'hello world', name: 'alice', version: 1, editedAt: edit.editedAt });
  });

  test('the author deletes a message: everyone hears, history and ?since= show a tombstone', async () => {
    const server = await startTestServer(env);
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const json = await connectRaw(server.url, { format: 'json' });
    const first = await alice.chat('keep me');
    const doomed = await alice.chat('my password is hunter2');
    const after = await alice.chat('after');
    if (!first.ok || !doomed.ok || !after.ok) throw new Error('not sent');

    const aliceChanges = changeQueues(alice.socket, 'alice');
    expect(await alice.socket.emitWithAck('delete', { id: doomed.id })).toEqual({ ok: true });
    expect(await aliceChanges.deletes.next()).toEqual({ id: doomed.id });
    expect(await nextFrameOf(json, 'delete')).toEqual({ type: 'delete', id: doomed.id });

    const newcomer = await connectSio(server.url, { auth: { name: 'newcomer' } });
    const history: HistoryMessage[] = await newcomer.histories.next();
    expect(history.map((m) => m.id)).toEqual([first.id, doomed.id, after.id]);
    expect(history[1]).toEqual({ id: doomed.id, at: expect.any(Number), deleted: true });

    const resumed = await connectRaw(server.url, { format: 'json', since: first.id });
    expect(await resumed.nextJson()).toEqual({ type: 'chat', id: doomed.id, at: history[1]?.at, deleted: true });
    expect(await resumed.nextJson()).toMatchObject({ type: 'chat', id: after.id, text: 'after' });

    // A tombstone is no message any more.
    expect(await alice.socket.emitWithAck('edit', { id: doomed.id, text: 'again' })).toEqual({ ok: false, error: ActionError.NotFound });
    expect(await alice.socket.emitWithAck('delete', { id: doomed.id })).toEqual({ ok: false, error: ActionError.NotFound });
  });

  test('without JWT only the connection that sent a message may change it', async () => {
    const server = await startTestServer(env);
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const mallory = await connectSio(server.url, { auth: { name: 'alice' } }); // the same name is no proof
    const sent = await alice.chat('mine');
    if (!sent.ok) throw new Error(sent.error);
    expect(await mallory.socket.emitWithAck('edit', { id: sent.id, text: 'yours' })).toEqual({ ok: false, error: ActionError.Forbidden });
    expect(await mallory.socket.emitWithAck('delete', { id: sent.id })).toEqual({ ok: false, error: ActionError.Forbidden });
    expect(await mallory.socket.emitWithAck('edit', { id: '1-0', text: 'nothing' })).toEqual({ ok: false, error: ActionError.NotFound });
    const newcomer = await connectSio(server.url, { auth: { name: 'newcomer' } });
    expect(await newcomer.histories.next()).toEqual([expect.objectContaining({ id: sent.id, text: 'mine' })]);
  });

  test('reactions: per user per emoji, counted, live for both kinds, kept in history', async () => {
    const server = await startTestServer(env);
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    const json = await connectRaw(server.url, { format: 'json', ack: '1', name: 'jay' });
    await nextFrameOf(json, 'notice');
    const sent = await alice.chat('react to me');
    if (!sent.ok) throw new Error(sent.error);
    const aliceChanges = changeQueues(alice.socket, 'alice');

    expect(await alice.socket.emitWithAck('react', { id: sent.id, emoji: '👍', on: true })).toEqual({ ok: true, count: 1 });
    expect(await alice.socket.emitWithAck('react', { id: sent.id, emoji: '👍', on: true })).toEqual({ ok: true, count: 1 });
    expect(await bob.socket.emitWithAck('react', { id: sent.id, emoji: '👍', on: true })).toEqual({ ok: true, count: 2 });
    expect(await rawRequest(json, { type: 'react', id: sent.id, emoji: '🎉', on: true })).toEqual({ type: 'ack', ref: expect.any(String), count: 1 });
    expect(await aliceChanges.reactions.next()).toEqual({ id: sent.id, emoji: '👍', count: 1 });
    expect(await aliceChanges.reactions.next()).toEqual({ id: sent.id, emoji: '👍', count: 1 });
    expect(await aliceChanges.reactions.next()).toEqual({ id: sent.id, emoji: '👍', count: 2 });
    expect(await aliceChanges.reactions.next()).toEqual({ id: sent.id, emoji: '🎉', count: 1 });
    expect(await bob.socket.emitWithAck('react', { id: sent.id, emoji: '👍', on: false })).toEqual({ ok: true, count: 1 });

    const newcomer = await connectSio(server.url, { auth: { name: 'newcomer' } });
    const [message] = (await newcomer.histories.next()) as ChatMessage[];
    expect(message?.reactions).toEqual({ '👍': 1, '🎉': 1 });
  });

  test('read markers: the room hears, a marker only moves forward, unread counts per room', async () => {
    const server = await startTestServer(env);
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    const aliceChanges = changeQueues(alice.socket, 'alice');
    const ids: string[] = [];
    for (const text of ['one', 'two', 'three', 'four']) {
      const ack = await alice.chat(text);
      if (!ack.ok) throw new Error(ack.error);
      ids.push(ack.id);
    }
    expect(await bob.socket.emitWithAck('read', { id: ids[1] as string })).toEqual({ ok: true });
    expect(await aliceChanges.reads.next()).toEqual({ name: 'bob', id: ids[1] });
    expect(await bob.socket.emitWithAck('unread')).toEqual({ ok: true, rooms: [{ name: 'lobby', lastId: ids[3], lastReadId: ids[1], unread: 2 }] });
    // An older message leaves the marker where it is.
    expect(await bob.socket.emitWithAck('read', { id: ids[0] as string })).toEqual({ ok: true });
    expect(await aliceChanges.reads.next()).toEqual({ name: 'bob', id: ids[1] });
    expect(await bob.socket.emitWithAck('unread')).toEqual({ ok: true, rooms: [expect.objectContaining({ lastReadId: ids[1], unread: 2 })] });
  });

  test('raw JSON clients make the same requests, answered by ref', async () => {
    const server = await startTestServer(env);
    const raw = await connectRaw(server.url, { format: 'json', ack: '1', name: 'rae' });
    const watcher = await connectSio(server.url, { auth: { name: 'watcher' } });
    const changes = changeQueues(watcher.socket, 'watcher');
    const posted = await rawRequest(raw, { type: 'chat', text: 'from raw' });
    expect(posted).toEqual({ type: 'ack', ref: expect.any(String), id: expect.any(String) });
    const id = posted.id as string;
    expect(await rawRequest(raw, { type: 'edit', id, text: 'edited from raw' })).toEqual({ type: 'ack', ref: expect.any(String), version: 1 });
    expect(await changes.edits.next()).toMatchObject({ id, text: 'edited from raw', version: 1 });
    expect(await rawRequest(raw, { type: 'react', id, emoji: '❤️', on: true })).toMatchObject({ type: 'ack', count: 1 });
    expect(await rawRequest(raw, { type: 'read', id })).toMatchObject({ type: 'ack' });
    expect(await rawRequest(raw, { type: 'history', limit: 10 })).toEqual({
      type: 'history',
      ref: expect.any(String),
      more: false,
      messages: [expect.objectContaining({ id, text: 'edited from raw', reactions: { '❤️': 1 } })],
    });
    expect(await rawRequest(raw, { type: 'unread' })).toEqual({ type: 'unread', ref: expect.any(String), rooms: [{ name: 'lobby', lastId: id, lastReadId: id, unread: 0 }] });
    expect(await rawRequest(raw, { type: 'delete', id })).toMatchObject({ type: 'ack' });
    expect(await changes.deletes.next()).toEqual({ id });
    // Refusals come as error frames with the ref (or the request's id).
    expect(await rawRequest(raw, { type: 'edit', id, text: 'x' })).toEqual({ type: 'error', error: ActionError.NotFound, ref: expect.any(String) });
    expect(await rawRequest(raw, { type: 'shout', text: 'x' })).toEqual({ type: 'error', error: ActionError.Invalid, ref: expect.any(String) });
    raw.send(JSON.stringify({ type: 'delete', id: '1-1' }));
    expect(await nextFrameOf(raw, 'error')).toEqual({ type: 'error', error: ActionError.NotFound, ref: '1-1' });
    // Any other JSON is still chat text, as before.
    raw.send('{"text":"not a request"}');
    expect(await nextFrameOf(raw, 'chat')).toMatchObject({ text: '{"text":"not a request"}' });
  });

  test('with JWT the author is the token: another connection of the same user may edit, a moderator deletes anyone', async () => {
    const secret = 'a-secret-of-at-least-32-bytes-for-hs256!';
    const signer = { alg: 'HS256', key: new TextEncoder().encode(secret) };
    const server = await startTestServer({ ...env, JWT_SECRET: secret });
    const token = (claims: Record<string, unknown>) => signToken(signer, claims);
    const ann1 = await connectSio(server.url, { auth: { token: await token({ sub: 'ann', name: 'Ann' }) } });
    const ann2 = await connectSio(server.url, { auth: { token: await token({ sub: 'ann', name: 'Ann' }) } });
    const ben = await connectSio(server.url, { auth: { token: await token({ sub: 'ben', name: 'Ben' }) } });
    const mod = await connectSio(server.url, { auth: { token: await token({ sub: 'mo', name: 'Mo', role: 'moderator' }) } });
    const benChats = ben.chats;
    const sent = await ann1.chat('by ann');
    if (!sent.ok) throw new Error(sent.error);
    expect(await benChats.next()).toMatchObject({ id: sent.id, user: 'ann', name: 'Ann' });
    expect(await ann2.socket.emitWithAck('edit', { id: sent.id, text: 'by ann, again' })).toEqual({ ok: true, version: 1 });
    expect(await ben.socket.emitWithAck('edit', { id: sent.id, text: 'by ben' })).toEqual({ ok: false, error: ActionError.Forbidden });
    expect(await ben.socket.emitWithAck('delete', { id: sent.id })).toEqual({ ok: false, error: ActionError.Forbidden });
    expect(await mod.socket.emitWithAck('edit', { id: sent.id, text: 'by mo' })).toEqual({ ok: false, error: ActionError.Forbidden });
    expect(await mod.socket.emitWithAck('delete', { id: sent.id })).toEqual({ ok: true });
    // Reactions count users, not connections.
    const other = await ann1.chat('react');
    if (!other.ok) throw new Error(other.error);
    await ann1.socket.emitWithAck('react', { id: other.id, emoji: '👍', on: true });
    expect(await ann2.socket.emitWithAck('react', { id: other.id, emoji: '👍', on: true })).toEqual({ ok: true, count: 1 });
  });
});
