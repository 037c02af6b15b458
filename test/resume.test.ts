import type { ChatMessage } from '../server/protocol';
import { connectRaw } from './support/raw-client';
import { startTestServer } from './support/server';

describe('raw resume with ?since=<id>', () => {
  it('replays the chats after that id, in order, before the join and live traffic', async () => {
    const server = await startTestServer();
    const talker = await connectRaw(server.url, { format: 'json', name: 'talker' });
    await talker.nextJson();
    for (const text of ['first', 'second', 'third']) talker.send(text);
    const [first, second, third] = (await Promise.all([talker.nextJson(), talker.nextJson(), talker.nextJson()])) as ChatMessage[];

    const back = await connectRaw(server.url, { format: 'json', name: 'back', since: first!.id });
    expect(await back.nextJson()).toEqual({ type: 'chat', ...second });
    expect(await back.nextJson()).toEqual({ type: 'chat', ...third });
    expect(await back.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'back', online: 2 });
    talker.send('fourth');
    expect(await back.nextJson()).toMatchObject({ type: 'chat', text: 'fourth', name: 'talker' });
  });

  it('replays nothing after the newest id', async () => {
    const server = await startTestServer();
    const talker = await connectRaw(server.url, { format: 'json' });
    await talker.nextJson();
    talker.send('only');
    const only = (await talker.nextJson()) as ChatMessage;
    const back = await connectRaw(server.url, { format: 'json', since: only.id });
    expect(await back.nextJson()).toMatchObject({ type: 'notice', kind: 'join' });
  });

  it('replays from the store what HISTORY_SIZE no longer holds', async () => {
    const server = await startTestServer({ HISTORY_SIZE: '2' });
    const talker = await connectRaw(server.url, { format: 'json' });
    await talker.nextJson();
    for (const text of ['a', 'b', 'c', 'd']) talker.send(text);
    const [a] = (await Promise.all([talker.nextJson(), talker.nextJson(), talker.nextJson(), talker.nextJson()])) as ChatMessage[];

    const back = await connectRaw(server.url, { format: 'json', since: a!.id });
    for (const text of ['b', 'c', 'd']) expect(await back.nextJson()).toMatchObject({ type: 'chat', text });
    expect(await back.nextJson()).toMatchObject({ type: 'notice', kind: 'join' });
  });

  it('says history is incomplete for an id the store no longer keeps (HISTORY_KEEP), then goes live', async () => {
    const server = await startTestServer({ HISTORY_SIZE: '2', HISTORY_KEEP: '2' });
    const talker = await connectRaw(server.url, { format: 'json' });
    await talker.nextJson();
    for (const text of ['a', 'b', 'c']) talker.send(text);
    const [a] = (await Promise.all([talker.nextJson(), talker.nextJson(), talker.nextJson()])) as ChatMessage[];

    const back = await connectRaw(server.url, { format: 'json', since: a!.id });
    expect(await back.nextJson()).toMatchObject({ type: 'notice', kind: 'history_incomplete', since: a!.id });
    expect(await back.nextJson()).toMatchObject({ type: 'notice', kind: 'join' });
  });

  it.each([
    [{ format: 'json', since: 'yesterday' }],
    [{ format: 'json', since: '' }],
    [{ since: '1700000000000-0' }],
  ])('refuses %j with HTTP 400', async (query) => {
    const server = await startTestServer();
    await expect(connectRaw(server.url, query)).rejects.toThrow('HTTP 400');
  });
});
