import { chatsOf, textsOf } from './support/stored-chat';
import { connectSio } from './support/sio-client';
import { startTestServer } from './support/server';
import { JOIN, LEAVE } from './support/seed-strings';

describe('Socket.IO', () => {
  it('announces a join to everyone, the newcomer included, with name and online count', async () => {
    const server = await startTestServer();
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    expect(await alice.notices.next()).toEqual({ kind: 'join', text: JOIN, name: 'alice', online: 1, at: expect.any(Number) });

    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    expect(await bob.notices.next()).toMatchObject({ kind: 'join', name: 'bob', online: 2 });
    expect(await alice.notices.next()).toMatchObject({ kind: 'join', name: 'bob', online: 2 });
  });

  it('announces a leave to the others', async () => {
    const server = await startTestServer();
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    await alice.notices.take(2);
    bob.socket.disconnect();
    expect(await alice.notices.next()).toEqual({ kind: 'leave', text: LEAVE, name: 'bob', online: 1, at: expect.any(Number) });
  });

  it('acks a chat with its id and broadcasts it to everyone, sender included', async () => {
    const server = await startTestServer();
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });

    const ack = await alice.chat('hello, bob');
    expect(ack).toEqual({ ok: true, id: expect.any(String) });
    if (!ack.ok) throw new Error('expected ok');
    const expected = { id: ack.id, text: 'hello, bob', name: 'alice', at: expect.any(Number) };
    expect(await alice.chats.next()).toEqual(expected);
    expect(await bob.chats.next()).toEqual(expected);
  });

  it.each([
    ['a number', 42, 'invalid_type'],
    ['an object', { text: 'hi' }, 'invalid_type'],
    ['null', null, 'invalid_type'],
    ['an empty string', '', 'empty'],
    ['only white space', ' \n\t ', 'empty'],
  ])('refuses %s with an error ack and broadcasts nothing', async (_label, payload, error) => {
    const server = await startTestServer();
    const sender = await connectSio(server.url);
    const reader = await connectSio(server.url);
    expect(await sender.chat(payload)).toEqual({ ok: false, error });
    // A good message after the refused one: had the refused one gone out, it would come first.
    expect(await sender.chat('marker')).toMatchObject({ ok: true });
    await reader.chats.expectNothingBefore((m) => m.text === 'marker', 'the marker chat');
    await sender.chats.expectNothingBefore((m) => m.text === 'marker', 'the marker chat');
  });

  it('refuses a message over MAX_MESSAGE_BYTES, counted in UTF-8 bytes', async () => {
    const server = await startTestServer({ MAX_MESSAGE_BYTES: '100' });
    const sender = await connectSio(server.url);
    // 34 three-byte characters: 34 UTF-16 units but 102 bytes.
    expect(await sender.chat('€'.repeat(34))).toEqual({ ok: false, error: 'too_large' });
    expect(await sender.chat('€'.repeat(33))).toEqual({ ok: true, id: expect.any(String) });
    expect(await sender.chats.next()).toMatchObject({ text: '€'.repeat(33) });
  });

  it('disconnects only the sender of a packet over the limit', async () => {
    const server = await startTestServer({ MAX_MESSAGE_BYTES: '1000' });
    const offender = await connectSio(server.url, { auth: { name: 'offender' } });
    const bystander = await connectSio(server.url, { auth: { name: 'bystander' } });
    expect(await bystander.notices.next()).toMatchObject({ kind: 'join', name: 'bystander', online: 2 });

    const disconnected = new Promise<string>((resolve) => offender.socket.once('disconnect', resolve));
    offender.socket.emit('chat', 'x'.repeat(100_000));
    expect(await disconnected).toBe('transport close');
    expect(await bystander.notices.next()).toMatchObject({ kind: 'leave', name: 'offender', online: 1 });
    await bystander.chat('still here');
    expect(await bystander.chats.next()).toMatchObject({ text: 'still here' });
  });

  it('ignores a chat sent without an ack callback but still broadcasts it', async () => {
    const server = await startTestServer();
    const alice = await connectSio(server.url);
    alice.socket.emit('chat', 'no ack wanted');
    expect(await alice.chats.next()).toMatchObject({ text: 'no ack wanted' });
  });

  it('gives a newcomer the last HISTORY_SIZE messages, oldest first, before its join notice', async () => {
    const server = await startTestServer({ HISTORY_SIZE: '3' });
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    expect(await alice.histories.next()).toEqual([]);
    for (const text of ['one', 'two', 'three', 'four']) await alice.chat(text);

    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    const history = await bob.histories.next();
    expect(textsOf(history)).toEqual(['two', 'three', 'four']);
    expect(chatsOf(history).every((m) => m.name === 'alice')).toBe(true);
    expect(await bob.notices.next()).toMatchObject({ kind: 'join', name: 'bob' });
    // A chat on alice's connection after bob's arrival: a history for her would be there first.
    await alice.chat('marker');
    expect((await alice.chats.take(5)).map((m) => m.text)).toEqual(['one', 'two', 'three', 'four', 'marker']);
    expect(alice.histories.pending).toEqual([]);
  });

  it('sends no history when HISTORY_SIZE is 0', async () => {
    const server = await startTestServer({ HISTORY_SIZE: '0' });
    const alice = await connectSio(server.url);
    await alice.chat('gone');
    const bob = await connectSio(server.url);
    expect(await bob.histories.next()).toEqual([]);
  });

  it('cleans up the name from auth: control characters, white space, length', async () => {
    const server = await startTestServer();
    const long = await connectSio(server.url, { auth: { name: `  ${'n'.repeat(40)}  ` } });
    expect((await long.notices.next()).name).toBe('n'.repeat(32));

    const sneaky = await connectSio(server.url, { auth: { name: ' ev\u0000il\n\u001b[31mred ' } });
    expect((await sneaky.notices.next()).name).toBe('evil[31mred');
  });

  it.each([
    ['missing', {}],
    ['empty', { name: '' }],
    ['only spaces and controls', { name: ' \u0007 ' }],
    ['not a string', { name: 7 }],
  ])('names a client whose name is %s guest-xxxx', async (_label, auth) => {
    const server = await startTestServer();
    const guest = await connectSio(server.url, { auth });
    expect((await guest.notices.next()).name).toMatch(/^guest-[0-9a-f]{4}$/);
  });

  it('works over HTTP long-polling too', async () => {
    const server = await startTestServer();
    const polling = await connectSio(server.url, { transports: ['polling'], auth: { name: 'poller' } });
    const ws = await connectSio(server.url, { auth: { name: 'ws' } });
    await ws.chat('to the poller');
    expect(await polling.chats.next()).toMatchObject({ text: 'to the poller', name: 'ws' });
    expect(await polling.chat('from the poller')).toMatchObject({ ok: true });
    expect(await ws.chats.next()).toMatchObject({ text: 'to the poller' });
    expect(await ws.chats.next()).toMatchObject({ text: 'from the poller', name: 'poller' });
  });
});
