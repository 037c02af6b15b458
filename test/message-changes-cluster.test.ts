/**
 * Edits, deletes, reactions, read markers and older history across two nodes on Redis
 * (issue #21): a change made on one node reaches both kinds of client on the other, and
 * the other node's history and pages show it.
 */
import { ActionError, type ChatMessage, type HistoryMessage } from '../server/protocol';
import { MULTI_PROCESS_START_MS, twoNodesOnRedis, type ClusterNode } from './support/nodes';
import { connectRaw } from './support/raw-client';
import { describeWithRedis } from './support/redis';
import { changeQueues, nextFrameOf, rawRequest } from './support/room-events';
import { connectSio } from './support/sio-client';

jest.setTimeout(90_000);

describeWithRedis('changes to messages across two nodes on Redis', () => {
  let a: ClusterNode;
  let b: ClusterNode;
  // Two processes for the file: each test has a room of its own.
  beforeAll(async () => {
    [a, b] = await twoNodesOnRedis();
  }, MULTI_PROCESS_START_MS * 2);

  it('an edit, a reaction, a read marker and a delete made on A reach both kinds of client on B, and B shows them', async () => {
    const room = 'changes';
    const author = await connectSio(a.url, { auth: { name: 'author' }, room });
    const sioB = await connectSio(b.url, { auth: { name: 'sioB' }, room });
    const onB = changeQueues(sioB.socket, 'sioB');
    const rawB = await connectRaw(b.url, { format: 'json', ack: '1', name: 'rawB' }, {}, { room });
    await nextFrameOf(rawB, 'notice');
    const sent = await author.chat('typo heer');
    if (!sent.ok) throw new Error(sent.error);
    await nextFrameOf(rawB, 'chat');

    expect(await author.socket.emitWithAck('edit', { id: sent.id, text: 'typo here' })).toEqual({ ok: true, version: 1 });
    expect(await onB.edits.next()).toMatchObject({ id: sent.id, text: 'typo here', version: 1 });
    expect(await nextFrameOf(rawB, 'edit')).toMatchObject({ id: sent.id, text: 'typo here', version: 1 });

    // Reactions by a user on each node count together.
    expect(await author.socket.emitWithAck('react', { id: sent.id, emoji: '👍', on: true })).toEqual({ ok: true, count: 1 });
    expect(await onB.reactions.next()).toEqual({ id: sent.id, emoji: '👍', count: 1 });
    // B's room hears A's reaction on the bus, which its raw client shows; the Socket.IO
    // event above came by the adapter's channel, which may run ahead of it. B's history
    // shows the last count B heard, so B reacts once it has heard A's.
    expect(await nextFrameOf(rawB, 'reaction')).toMatchObject({ id: sent.id, emoji: '👍', count: 1 });
    expect(await rawRequest(rawB, { type: 'react', id: sent.id, emoji: '👍', on: true })).toMatchObject({ type: 'ack', count: 2 });
    expect(await onB.reactions.next()).toEqual({ id: sent.id, emoji: '👍', count: 2 });

    expect(await author.socket.emitWithAck('read', { id: sent.id })).toEqual({ ok: true });
    expect(await onB.reads.next()).toEqual({ name: 'author', id: sent.id });
    expect(await sioB.socket.emitWithAck('unread')).toEqual({ ok: true, rooms: [] });

    const newcomerB = await connectSio(b.url, { auth: { name: 'newcomer' }, room });
    expect((await newcomerB.histories.next())[0]).toMatchObject({ id: sent.id, text: 'typo here', version: 1, reactions: { '👍': 2 } });

    // Only the author (its connection, without JWT) may delete it, whichever node asks.
    expect(await sioB.socket.emitWithAck('delete', { id: sent.id })).toEqual({ ok: false, error: ActionError.Forbidden });
    expect(await author.socket.emitWithAck('delete', { id: sent.id })).toEqual({ ok: true });
    expect(await onB.deletes.next()).toEqual({ id: sent.id });
    expect(await nextFrameOf(rawB, 'delete')).toEqual({ type: 'delete', id: sent.id });
    const page = await sioB.socket.emitWithAck('history', {});
    if (!page.ok) throw new Error(page.error);
    expect(page.messages).toEqual([{ id: sent.id, at: expect.any(Number), deleted: true }]);
  });

  it('1000 messages posted on A page back on B, 100 at a time, nothing missing or repeated', async () => {
    const room = 'paging';
    const poster = await connectSio(a.url, { auth: { name: 'poster' }, room });
    const ids: string[] = [];
    for (let start = 0; start < 1_000; start += 100) {
      const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => poster.chat(`m${start + i}`)));
      for (const ack of acks) {
        if (!ack.ok) throw new Error(ack.error);
        ids.push(ack.id);
      }
    }
    const reader = await connectSio(b.url, { auth: { name: 'reader' }, room });
    const pages: HistoryMessage[][] = [];
    let before: string | undefined;
    for (;;) {
      const ack = await reader.socket.emitWithAck('history', before === undefined ? { limit: 100 } : { before, limit: 100 });
      if (!ack.ok) throw new Error(ack.error);
      pages.unshift(ack.messages);
      if (!ack.more) break;
      before = ack.messages[0]?.id;
    }
    const all = pages.flat() as ChatMessage[];
    expect(all.map((m) => m.id)).toEqual(ids);
    expect(all.map((m) => m.text)).toEqual(ids.map((_, i) => `m${i}`));
  });
});
