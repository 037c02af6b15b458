import type { ChatMessage } from '../server/protocol';
import type { RawFormat } from '../client/shared/session';
import { connectRaw } from './support/raw-client';
import { startRawSession } from './support/raw-session';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

/** A raw session like a tab of the chat page on the raw endpoint (JSON unless told). */
const rawSession = async (url: string, name: string, rawFormat: RawFormat = 'json') => startRawSession(url, name, { rawFormat });

describe('raw JSON sessions learn their message ids from acks', () => {
  it('two connections with the same name sending the same text each get their own ids', async () => {
    const server = await startTestServer();
    const reader = await connectSio(server.url, { auth: { name: 'reader' } });
    const tabA = await rawSession(server.url, 'twin');
    const tabB = await rawSession(server.url, 'twin');
    // Both are in (each has seen both joins) before they talk.
    await tabA.notices.take(2);
    await tabB.notices.next();

    const rounds = 5;
    const sent = await Promise.all(
      [tabA, tabB].map(({ session }) => Promise.all(Array.from({ length: rounds }, () => session.send('same words')))),
    );
    const [idsA = [], idsB = []] = sent as string[][];
    const seen = (await reader.chats.take(2 * rounds)).map((m: ChatMessage) => m.id);

    // Ten messages, ten ids: none taken twice, and each one a message the room got.
    expect(new Set([...idsA, ...idsB]).size).toBe(2 * rounds);
    expect([...idsA, ...idsB].sort()).toEqual([...seen].sort());
    // Each connection's ids come in the order it sent its messages.
    for (const ids of [idsA, idsB]) expect(ids).toEqual(seen.filter((id) => ids.includes(id)));
    // Both hear every message, their own included, once.
    expect((await tabA.chats.take(2 * rounds)).map((m: ChatMessage) => m.id)).toEqual(seen);
    expect((await tabB.chats.take(2 * rounds)).map((m: ChatMessage) => m.id)).toEqual(seen);
  });

  it('one connection alone gets the id its message was broadcast with, in order, repeats included', async () => {
    const server = await startTestServer();
    const tab = await rawSession(server.url, 'solo');
    expect(await tab.notices.next()).toMatchObject({ kind: 'join', name: 'solo' });
    expect(tab.session.name).toBe('solo');

    const ids = await Promise.all(['one', 'two', 'one'].map((text) => tab.session.send(text)));
    const echoes = await tab.chats.take(3);
    expect(echoes.map((m: ChatMessage) => [m.text, m.name])).toEqual([['one', 'solo'], ['two', 'solo'], ['one', 'solo']]);
    expect(ids).toEqual(echoes.map((m: ChatMessage) => m.id));
  });

  it('a message sent before the connection is up waits for the join and then gets its id', async () => {
    const server = await startTestServer();
    const watcher = await connectRaw(server.url, { format: 'json', name: 'watcher' });
    await watcher.nextJson();
    const tab = await rawSession(server.url, 'eager');
    const id = await tab.session.send('right away');
    expect(await watcher.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'eager' });
    expect(await watcher.nextJson()).toEqual({ type: 'chat', id, text: 'right away', name: 'eager', at: expect.any(Number) });
  });

  it('seed mode is unchanged: no ids, and the frames come back verbatim', async () => {
    const server = await startTestServer();
    const tab = await rawSession(server.url, 'seed', 'text');
    expect(await tab.frames.next()).toBe('Server: A new user has entered the chat room.');
    expect(await tab.session.send('plain words')).toBeUndefined();
    expect(await tab.frames.next()).toBe('plain words');
  });
});

describe('raw endpoint, ?ack=1', () => {
  it('answers each frame to its sender alone, before the broadcast; others get the same frames as before', async () => {
    const server = await startTestServer();
    const seed = await connectRaw(server.url);
    const plainJson = await connectRaw(server.url, { format: 'json', name: 'plain' });
    const acked = await connectRaw(server.url, { format: 'json', ack: '1', name: 'acked' });
    await seed.messages.take(3); // the three joins
    await plainJson.messages.take(2); // its own join and acked's
    expect(await acked.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'acked' });

    acked.send('first');
    acked.send('first');
    plainJson.send('from plain');
    // Two acks and three chats; each ack comes before its message's broadcast, and
    // someone else's message gets none.
    const frames = (await acked.messages.take(5)).map((text: string) => JSON.parse(text) as { type: string; id: string; text?: string });
    const acks = frames.filter((frame) => frame.type === 'ack');
    const chats = frames.filter((frame) => frame.type === 'chat');
    expect(acks).toEqual([{ type: 'ack', id: expect.any(String) }, { type: 'ack', id: expect.any(String) }]);
    const [ack1, ack2] = acks as unknown as [{ id: string }, { id: string }];
    expect(ack1.id).not.toBe(ack2.id);
    expect(chats.map((frame) => [frame.id, frame.text])).toEqual([
      [ack1.id, 'first'],
      [ack2.id, 'first'],
      [expect.any(String), 'from plain'],
    ]);
    for (const ack of acks) expect(frames.indexOf(ack)).toBeLessThan(frames.findIndex((frame) => frame.type === 'chat' && frame.id === ack.id));

    // The seed client still gets the text verbatim, the plain JSON client chat frames only.
    expect(await seed.messages.take(3)).toEqual(['first', 'first', 'from plain']);
    const jsonFrames = (await plainJson.messages.take(3)).map((text: string) => JSON.parse(text) as { type: string; id?: string });
    expect(jsonFrames.map((frame) => [frame.type, frame.id])).toEqual([
      ['chat', ack1.id],
      ['chat', ack2.id],
      ['chat', expect.any(String)],
    ]);
  });

  it.each([[{ ack: '1' }], [{ format: 'text', ack: '1' }], [{ format: 'json', ack: 'yes' }]])(
    'refuses %j with HTTP 400',
    async (query) => {
      const server = await startTestServer();
      await expect(connectRaw(server.url, query)).rejects.toThrow('HTTP 400');
    },
  );
});
