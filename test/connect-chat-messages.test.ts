import { Socket, createServer, type AddressInfo, type Server } from 'node:net';
import { connectChat, nodeConnectors, type ChatClient } from '../client/connect';
import { Backoff } from '../client/shared/backoff';
import { ChatSession, RequestFailure, type SessionHandlers, type SessionStatus, type TransportKind } from '../client/shared/session';
import {
  MAX_EMOJI_BYTES,
  MAX_HISTORY_PAGE,
  type ChatMessage,
  type HistoryMessage,
  type MessageDelete,
  type MessageEdit,
  type Notice,
  type Reaction,
  type ReadMarker,
} from '../server/protocol';
import { onCleanup } from './support/cleanup';
import { EventQueue } from './support/event-queue';
import { freshDataDir } from './support/data-dir';
import { startTestServer } from './support/server';

/** A connectChat client, connected, and the room's message events it hears. */
async function chatClient(url: string, name: string): Promise<{ socket: ChatClient; events: RoomEvents }> {
  const socket = connectChat(url, { name, forceNew: true, reconnection: false });
  onCleanup('clients', () => socket.disconnect());
  const events = new RoomEvents(name);
  socket.on('chat', (message) => events.chats.push(message));
  socket.on('edit', (edit) => events.edits.push(edit));
  socket.on('delete', (deleted) => events.deletes.push(deleted));
  socket.on('reaction', (reaction) => events.reactions.push(reaction));
  socket.on('read', (marker) => events.reads.push(marker));
  socket.on('history', (messages) => events.histories.push(messages));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, events };
}

class RoomEvents {
  readonly chats: EventQueue<ChatMessage>;
  readonly edits: EventQueue<MessageEdit>;
  readonly deletes: EventQueue<MessageDelete>;
  readonly reactions: EventQueue<Reaction>;
  readonly reads: EventQueue<ReadMarker>;
  readonly histories: EventQueue<HistoryMessage[]>;
  readonly notices: EventQueue<Notice>;

  constructor(label: string) {
    this.chats = new EventQueue(`${label} chat`);
    this.edits = new EventQueue(`${label} edit`);
    this.deletes = new EventQueue(`${label} delete`);
    this.reactions = new EventQueue(`${label} reaction`);
    this.reads = new EventQueue(`${label} read`);
    this.histories = new EventQueue(`${label} history`);
    this.notices = new EventQueue(`${label} notice`);
  }
}

/** Posts `text` and answers its id. */
async function post(socket: ChatClient, text: string): Promise<string> {
  const ack = await socket.emitWithAck('chat', text);
  if (!ack.ok) throw new Error(`chat refused: ${ack.error}`);
  return ack.id;
}

describe('connectChat: edit, delete, react, older, markRead, unread', () => {
  it('edits a message: the ack has its version, the room gets the new text', async () => {
    const server = await startTestServer();
    const ann = await chatClient(server.url, 'ann');
    const bob = await chatClient(server.url, 'bob');
    const id = await post(ann.socket, 'helo');
    expect(await bob.events.chats.next()).toMatchObject({ id, text: 'helo' });

    expect(await ann.socket.edit(id, 'hello')).toEqual({ ok: true, version: 1 });
    expect(await bob.events.edits.next()).toEqual({ id, text: 'hello', version: 1, editedAt: expect.any(Number) });
    expect(await ann.events.edits.next()).toMatchObject({ id, version: 1 });
    expect(await ann.socket.edit(id, 'hello!')).toEqual({ ok: true, version: 2 });
    expect(await bob.events.edits.next()).toMatchObject({ id, text: 'hello!', version: 2 });

    // A newcomer's history has the latest text, its version and when it was edited.
    const carol = await chatClient(server.url, 'carol');
    expect(await carol.events.histories.next()).toEqual([
      { id, text: 'hello!', name: 'ann', at: expect.any(Number), version: 2, editedAt: expect.any(Number) },
    ]);
  });

  it('refuses edits of what is not there, of someone else\'s message, and of bad text', async () => {
    const server = await startTestServer({ MAX_MESSAGE_BYTES: '16' });
    const ann = await chatClient(server.url, 'ann');
    // Same name, another connection: without JWT only the sending connection may change it.
    const otherAnn = await chatClient(server.url, 'ann');
    const id = await post(ann.socket, 'short');

    expect(await otherAnn.socket.edit(id, 'mine now')).toEqual({ ok: false, error: 'forbidden' });
    expect(await ann.socket.edit('1-0', 'nothing there')).toEqual({ ok: false, error: 'not_found' });
    expect(await ann.socket.edit('not an id', 'x')).toEqual({ ok: false, error: 'invalid' });
    expect(await ann.socket.edit(id, '   ')).toEqual({ ok: false, error: 'empty' });
    expect(await ann.socket.edit(id, 'x'.repeat(17))).toEqual({ ok: false, error: 'too_large' });
    expect(await ann.socket.edit(id, 'x'.repeat(16))).toEqual({ ok: true, version: 1 });
  });

  it('deletes a message: the room gets it, history keeps a tombstone, and it is gone for every request', async () => {
    const server = await startTestServer();
    const ann = await chatClient(server.url, 'ann');
    const bob = await chatClient(server.url, 'bob');
    const doomed = await post(ann.socket, 'regrettable');
    const kept = await post(ann.socket, 'fine');

    expect(await bob.socket.deleteMessage(doomed)).toEqual({ ok: false, error: 'forbidden' });
    expect(await ann.socket.deleteMessage(doomed)).toEqual({ ok: true });
    expect(await bob.events.deletes.next()).toEqual({ id: doomed });
    for (const ack of [
      await ann.socket.deleteMessage(doomed),
      await ann.socket.edit(doomed, 'too late'),
      await bob.socket.react(doomed, '👍'),
    ]) {
      expect(ack).toEqual({ ok: false, error: 'not_found' });
    }

    const carol = await chatClient(server.url, 'carol');
    expect(await carol.events.histories.next()).toEqual([
      { id: doomed, at: expect.any(Number), deleted: true },
      { id: kept, text: 'fine', name: 'ann', at: expect.any(Number) },
    ]);
  });

  it('reacts: one per user per emoji, on by default, off takes it back; emoji of 1-32 bytes', async () => {
    const server = await startTestServer();
    const ann = await chatClient(server.url, 'ann');
    const bob = await chatClient(server.url, 'bob');
    const id = await post(ann.socket, 'react to me');

    expect(await bob.socket.react(id, '👍')).toEqual({ ok: true, count: 1 });
    expect(await ann.events.reactions.next()).toEqual({ id, emoji: '👍', count: 1 });
    expect(await bob.socket.react(id, '👍', true)).toEqual({ ok: true, count: 1 });
    expect(await ann.socket.react(id, '👍')).toEqual({ ok: true, count: 2 });
    expect(await bob.socket.react(id, '👍', false)).toEqual({ ok: true, count: 1 });

    const longest = '👍'.repeat(MAX_EMOJI_BYTES / 4);
    expect(Buffer.byteLength(longest)).toBe(MAX_EMOJI_BYTES);
    expect(await bob.socket.react(id, longest)).toEqual({ ok: true, count: 1 });
    expect(await bob.socket.react(id, `${longest}x`)).toEqual({ ok: false, error: 'invalid' });
    expect(await bob.socket.react(id, '')).toEqual({ ok: false, error: 'invalid' });
    expect(await bob.socket.react('1-0', '👍')).toEqual({ ok: false, error: 'not_found' });

    const carol = await chatClient(server.url, 'carol');
    expect(await carol.events.histories.next()).toEqual([expect.objectContaining({ id, reactions: { '👍': 1, [longest]: 1 } })]);
  });

  it('pages back through older history, oldest first, with tombstones, and refuses a limit outside 1-200', async () => {
    const server = await startTestServer();
    const ann = await chatClient(server.url, 'ann');
    const ids: string[] = [];
    for (const text of ['one', 'two', 'three', 'four', 'five']) ids.push(await post(ann.socket, text));
    expect(await ann.socket.deleteMessage(ids[1] as string)).toEqual({ ok: true });

    expect(await ann.socket.older(undefined, 2)).toEqual({
      ok: true,
      messages: [expect.objectContaining({ id: ids[3], text: 'four' }), expect.objectContaining({ id: ids[4], text: 'five' })],
      more: true,
    });
    expect(await ann.socket.older(ids[3], 2)).toEqual({
      ok: true,
      messages: [{ id: ids[1], at: expect.any(Number), deleted: true }, expect.objectContaining({ id: ids[2], text: 'three' })],
      more: true,
    });
    expect(await ann.socket.older(ids[1])).toEqual({ ok: true, messages: [expect.objectContaining({ id: ids[0] })], more: false });
    expect(await ann.socket.older(ids[0])).toEqual({ ok: true, messages: [], more: false });
    const all = await ann.socket.older();
    expect(all.ok && [all.messages.map((m) => m.id), all.more]).toEqual([ids, false]);

    expect(await ann.socket.older(undefined, 0)).toEqual({ ok: false, error: 'invalid' });
    expect(await ann.socket.older(undefined, 10_000)).toEqual({ ok: false, error: 'invalid' });
    expect(await ann.socket.older(undefined, MAX_HISTORY_PAGE)).toMatchObject({ ok: true });
    expect(await ann.socket.older('yesterday')).toEqual({ ok: false, error: 'invalid' });
  });

  it('marks a room read, tells the room, and counts what is unread after the marker', async () => {
    const server = await startTestServer();
    const ann = await chatClient(server.url, 'ann');
    const bob = await chatClient(server.url, 'bob');
    const ids: string[] = [];
    for (const text of ['a', 'b', 'c', 'd']) ids.push(await post(bob.socket, text));

    expect(await ann.socket.unread()).toEqual({ ok: true, rooms: [] });
    expect(await ann.socket.markRead(ids[1] as string)).toEqual({ ok: true });
    expect(await bob.events.reads.next()).toEqual({ name: 'ann', id: ids[1] });
    expect(await ann.socket.unread()).toEqual({ ok: true, rooms: [{ name: 'lobby', lastId: ids[3], lastReadId: ids[1], unread: 2 }] });

    // A marker only moves forward; deleted messages are not unread.
    expect(await ann.socket.markRead(ids[0] as string)).toEqual({ ok: true });
    expect(await bob.socket.deleteMessage(ids[2] as string)).toEqual({ ok: true });
    expect(await ann.socket.unread()).toEqual({ ok: true, rooms: [{ name: 'lobby', lastId: ids[3], lastReadId: ids[1], unread: 1 }] });
    expect(await ann.socket.markRead('1-0')).toEqual({ ok: false, error: 'not_found' });
  });
});

/** A ChatSession, started, and what its handlers heard. */
function session(url: string, transport: TransportKind, name: string, extra: { rawFormat?: 'text' | 'json'; backoff?: Backoff } = {}) {
  const statuses = new EventQueue<SessionStatus>(`${name} status`);
  const events = new RoomEvents(`${name} session`);
  const handlers: SessionHandlers = {
    status: (status) => statuses.push(status),
    chat: (message) => events.chats.push(message),
    notice: (notice) => events.notices.push(notice),
    history: (messages) => events.histories.push(messages),
    presence: () => {},
    typing: () => {},
    seedFrame: () => {},
    edited: (edit) => events.edits.push(edit),
    deleted: (deleted) => events.deletes.push(deleted),
    reaction: (reaction) => events.reactions.push(reaction),
    read: (marker) => events.reads.push(marker),
  };
  const chat = new ChatSession({
    url,
    transport,
    name,
    rawFormat: extra.rawFormat ?? 'json',
    retry: 'always',
    connectors: nodeConnectors,
    handlers,
    ...(extra.backoff === undefined ? {} : { backoff: extra.backoff }),
  });
  onCleanup('clients', () => chat.close());
  chat.start();
  return { chat, statuses, events };
}

describe.each(['socket.io', 'raw'] as const)('ChatSession over %s: the same requests', (transport) => {
  it('answers each request with the server\'s ack, refusals included, and hands on the room\'s events', async () => {
    const server = await startTestServer();
    const { chat, events } = session(server.url, transport, 'ann');
    await events.notices.next(); // its own join: in the room
    const other = await chatClient(server.url, 'bob');

    const id = await chat.send('helo');
    if (id === undefined) throw new Error('no id');
    expect(await chat.edit(id, 'hello')).toEqual({ ok: true, version: 1 });
    expect(await events.edits.next()).toEqual({ id, text: 'hello', version: 1, editedAt: expect.any(Number) });
    expect(await chat.react(id, '🎉', true)).toEqual({ ok: true, count: 1 });
    expect(await events.reactions.next()).toEqual({ id, emoji: '🎉', count: 1 });
    expect(await chat.markRead(id)).toEqual({ ok: true });
    expect(await events.reads.next()).toEqual({ name: 'ann', id });
    expect(await chat.unread()).toEqual({ ok: true, rooms: [{ name: 'lobby', lastId: id, lastReadId: id, unread: 0 }] });
    expect(await chat.older(undefined, 10)).toEqual({
      ok: true,
      messages: [
        { id, text: 'hello', name: 'ann', at: expect.any(Number), version: 1, editedAt: expect.any(Number), reactions: { '🎉': 1 } },
      ],
      more: false,
    });

    const theirs = await post(other.socket, 'not yours');
    expect(await chat.edit(theirs, 'is too')).toEqual({ ok: false, error: 'forbidden' });
    expect(await chat.older(undefined, 0)).toEqual({ ok: false, error: 'invalid' });
    expect(await chat.deleteMessage(id)).toEqual({ ok: true });
    expect(await events.deletes.next()).toEqual({ id });
    expect(await chat.deleteMessage(id)).toEqual({ ok: false, error: 'not_found' });
  });

  it('keeps chat acks and request answers apart when both are under way at once', async () => {
    const server = await startTestServer();
    const { chat, events } = session(server.url, transport, 'ann');
    await events.notices.next();
    const first = await chat.send('first');
    if (first === undefined) throw new Error('no id');

    const [a, reacted, b, page, c] = await Promise.all([
      chat.send('a'),
      chat.react(first, '👍', true),
      chat.send('b'),
      chat.older(first),
      chat.send('c'),
    ]);
    const echoes = await events.chats.take(4);
    expect(echoes.map((m) => m.text)).toEqual(['first', 'a', 'b', 'c']);
    expect([a, b, c]).toEqual(echoes.slice(1).map((m) => m.id));
    expect(reacted).toEqual({ ok: true, count: 1 });
    expect(page).toEqual({ ok: true, messages: [], more: false });
  });

  it('rejects requests while it has no connection, and once closed', async () => {
    const server = await startTestServer();
    const { chat, events } = session(server.url, transport, 'ann');
    await events.notices.next();
    await server.close();
    // Without a connection a request would be stale by the time one came back.
    await expect(chat.older()).rejects.toThrow(
      new RegExp(`^(${RequestFailure.NotConnected}|${RequestFailure.Lost})$`),
    );
    await chat.close();
    await expect(chat.unread()).rejects.toThrow('the session is closed');
  });
});

describe('ChatSession in raw text mode', () => {
  it('has no requests: each rejects saying so', async () => {
    const server = await startTestServer();
    const { chat, statuses } = session(server.url, 'raw', 'seed', { rawFormat: 'text' });
    expect(await statuses.next()).toEqual({ state: 'connecting', attempt: 0 });
    expect(await statuses.next()).toEqual({ state: 'connected' });
    const requests = [
      chat.edit('1-0', 'x'),
      chat.deleteMessage('1-0'),
      chat.react('1-0', '👍', true),
      chat.older(),
      chat.markRead('1-0'),
      chat.unread(),
    ];
    for (const request of requests) await expect(request).rejects.toThrow(RequestFailure.RawText);
  });
});

/**
 * A TCP relay in front of the server that can be cut: the client sees its connection drop
 * and its reconnection attempts refused until the relay opens again, while the server
 * stays up for others.
 */
async function relayTo(port: number): Promise<{ url: string; cut(): void; open(): void }> {
  let open = true;
  const pairs = new Set<[Socket, Socket]>();
  const relay: Server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    upstream.connect(port, '127.0.0.1');
    client.pipe(upstream).pipe(client);
  });
  onCleanup('servers', () => new Promise((resolve) => relay.close(resolve)));
  onCleanup('clients', () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    cut: () => {
      open = false;
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
    },
    open: () => {
      open = true;
    },
  };
}

describe('ChatSession history after a reconnection', () => {
  it('hands on a message again when it was deleted or edited while away, and not when it is unchanged', async () => {
    const server = await startTestServer({ DATA_DIR: freshDataDir() });
    const relay = await relayTo(server.port);
    const { events, statuses } = session(relay.url, 'socket.io', 'watcher', { backoff: new Backoff(10, 50) });
    await events.notices.next();
    const ann = await chatClient(server.url, 'ann');
    const doomed = await post(ann.socket, 'doomed');
    const edited = await post(ann.socket, 'typo');
    const same = await post(ann.socket, 'same');
    expect((await events.chats.take(3)).map((m) => m.id)).toEqual([doomed, edited, same]);
    expect(await events.histories.next()).toEqual([]); // on joining, before anything was said

    relay.cut();
    for (;;) if ((await statuses.next()).state === 'reconnecting') break;
    expect(await ann.socket.deleteMessage(doomed)).toEqual({ ok: true });
    expect(await ann.socket.edit(edited, 'fixed')).toEqual({ ok: true, version: 1 });
    relay.open();

    // The history after the reconnection has all three; the unchanged one was handed on already.
    expect(await events.histories.next(15_000)).toEqual([
      { id: doomed, at: expect.any(Number), deleted: true },
      expect.objectContaining({ id: edited, text: 'fixed', version: 1 }),
    ]);
    expect(events.edits.pending).toEqual([]);
    expect(events.deletes.pending).toEqual([]);
  });
});
