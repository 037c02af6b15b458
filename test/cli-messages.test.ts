import { connectChat, type ChatClient } from '../client/connect';
import { OLDER_PAGE } from '../client/message-view';
import type { ChatMessage, MessageDelete, MessageEdit, Reaction } from '../server/protocol';
import { onCleanup } from './support/cleanup';
import type { ListenLine } from '../client/scripted';
import { nextJsonLine, spawnChat, type ChatProcess } from './support/cli';
import { EventQueue } from './support/event-queue';
import { escapeRegExp } from './support/regexp';
import { startTestServer } from './support/server';

// Each test starts a client process (about a second on a busy machine).
jest.setTimeout(60_000);

const TIME = String.raw`\d\d:\d\d:\d\d`;

/** A connectChat client in the lobby and the message events it hears. */
async function watcher(url: string, name: string) {
  const socket: ChatClient = connectChat(url, { name, forceNew: true, reconnection: false });
  onCleanup('clients', () => socket.disconnect());
  const chats = new EventQueue<ChatMessage>(`${name} chat`);
  const edits = new EventQueue<MessageEdit>(`${name} edit`);
  const deletes = new EventQueue<MessageDelete>(`${name} delete`);
  const reactions = new EventQueue<Reaction>(`${name} reaction`);
  socket.on('chat', (message) => chats.push(message));
  socket.on('edit', (edit) => edits.push(edit));
  socket.on('delete', (deleted) => deletes.push(deleted));
  socket.on('reaction', (reaction) => reactions.push(reaction));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, chats, edits, deletes, reactions };
}

/** A line of the client's output (a whole line, from a pipe: no colour). */
const line = (text: string) => new RegExp(`^${TIME} ${text}$`, 'm');

/** Waits for `text` as a whole line printed after `from`; answers where it ends. */
async function printed(chat: ChatProcess, text: string, from = 0): Promise<number> {
  const match = await chat.stdout.until(line(text), { from });
  return match.index + match[0].length;
}

describe.each([
  ['socket.io', []],
  ['raw JSON', ['--raw', '--json']],
] as const)('terminal client over %s: /edit, /delete, /react', (_wire, flags) => {
  it('changes its own last message, toggles a reaction, and the room sees each', async () => {
    const server = await startTestServer();
    const bob = await watcher(server.url, 'bob');
    const chat = spawnChat([...flags, '--ids', '--name', 'piper', server.url]);
    let at = await printed(chat, String.raw`\* piper joined \(2 online\)`);

    chat.write('helo\n');
    const sent = await bob.chats.next();
    expect(sent).toMatchObject({ name: 'piper', text: 'helo' });
    const id = escapeRegExp(`#${sent.id}`);
    at = await printed(chat, `piper: helo  ${id}`, at);

    chat.write('/edit hello, world\n');
    expect(await bob.edits.next()).toEqual({ id: sent.id, text: 'hello, world', version: 1, editedAt: expect.any(Number) });
    at = await printed(chat, String.raw`piper: hello, world \(edited\)  ${id}`, at);

    // The newest message shown is the default; the second /react takes the first back.
    chat.write('/react 👍\n');
    expect(await bob.reactions.next()).toEqual({ id: sent.id, emoji: '👍', count: 1 });
    at = await printed(chat, `~ 👍 1 on piper: hello, world  ${id}`, at);
    chat.write('/react 👍\n');
    expect(await bob.reactions.next()).toEqual({ id: sent.id, emoji: '👍', count: 0 });
    at = await printed(chat, `~ 👍 0 on piper: hello, world  ${id}`, at);

    chat.write('/delete\n');
    expect(await bob.deletes.next()).toEqual({ id: sent.id });
    at = await printed(chat, String.raw`~ message deleted \(piper: hello, world\)  ${id}`, at);
    // Nothing of its own is left to change.
    chat.write('/edit again\n');
    await printed(chat, `!! nothing of yours to edit here yet; /edit ID TEXT names a message`, at);

    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });

  it('names someone else\'s message by the end of its id, shows what they do to it, and is refused what is theirs', async () => {
    const server = await startTestServer();
    const bob = await watcher(server.url, 'bob');
    const chat = spawnChat([...flags, '--name', 'piper', server.url]);
    let at = await printed(chat, String.raw`\* piper joined \(2 online\)`);

    const ack = await bob.socket.emitWithAck('chat', 'typo here');
    if (!ack.ok) throw new Error(ack.error);
    // Without --ids the lines are as they always were.
    at = await printed(chat, 'bob: typo here', at);
    const suffix = ack.id.slice(-6);
    chat.write('/ids\n');
    at = await printed(chat, '-- message ids shown after each message', at);

    chat.write(`/react #${suffix} ❤️\n`);
    expect(await bob.reactions.next()).toEqual({ id: ack.id, emoji: '❤️', count: 1 });
    at = await printed(chat, `~ ❤️ 1 on bob: typo here  ${escapeRegExp(`#${ack.id}`)}`, at);
    chat.write(`/edit #${suffix} mine now\n`);
    at = await printed(chat, String.raw`!! not edited: only its author may do that \(forbidden\)`, at);
    chat.write(`/delete ${ack.id}\n`);
    at = await printed(chat, String.raw`!! not deleted: only its author may do that \(forbidden\)`, at);
    chat.write('/react #99-9-9 👍\n');
    at = await printed(chat, '!! no message shown here has an id ending in 99-9-9 \\(/ids shows them\\)', at);

    expect(await bob.socket.edit(ack.id, 'fixed here')).toEqual({ ok: true, version: 1 });
    at = await printed(chat, String.raw`bob: fixed here \(edited\)  ${escapeRegExp(`#${ack.id}`)}`, at);
    expect(await bob.socket.deleteMessage(ack.id)).toEqual({ ok: true });
    at = await printed(chat, String.raw`~ message deleted \(bob: fixed here\)  ${escapeRegExp(`#${ack.id}`)}`, at);
    chat.write(`/react ${ack.id} 👍\n`);
    await printed(chat, String.raw`!! no reaction: no such message in this room \(not_found\)`, at);

    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });
});

describe('terminal client: /older', () => {
  it('pages back from the oldest message shown until there are no more, deleted ones in their place', async () => {
    const server = await startTestServer({ HISTORY_SIZE: '2' });
    const bob = await watcher(server.url, 'bob');
    const count = OLDER_PAGE + 5;
    const texts = Array.from({ length: count }, (_, i) => `message ${i + 1}`);
    const ids: string[] = [];
    for (const text of texts) {
      const ack = await bob.socket.emitWithAck('chat', text);
      if (!ack.ok) throw new Error(ack.error);
      ids.push(ack.id);
    }
    expect(await bob.socket.deleteMessage(ids[2] as string)).toEqual({ ok: true });

    const chat = spawnChat(['--name', 'reader', server.url]);
    let at = await printed(chat, `bob: message ${count}`);
    expect(chat.stdout.all).not.toMatch(line(`bob: message ${count - 2}`));

    chat.write('/older\n');
    at = await printed(chat, `-- ${OLDER_PAGE} older messages; /older for more`, at);
    const firstPage = texts.slice(count - 2 - OLDER_PAGE, count - 2);
    const shown = chat.stdout.all.match(new RegExp(`^${TIME} bob: message \\d+$`, 'gm')) ?? [];
    // The two of the history first, then the page.
    expect(shown.slice(2)).toEqual(firstPage.map((text) => expect.stringMatching(line(`bob: ${text}`))));

    // The deleted one keeps its place.
    chat.write('/older\n');
    const second = at;
    at = await printed(chat, '-- 3 older messages: the oldest there are', at);
    expect(chat.stdout.all.slice(second, at).split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(line('bob: message 1')),
      expect.stringMatching(line('bob: message 2')),
      expect.stringMatching(line('~ message deleted')),
      expect.stringMatching(line('-- 3 older messages: the oldest there are')),
    ]);
    chat.write('/older\n');
    at = await printed(chat, '-- no older messages', at);

    // Before a message named by its id.
    chat.write(`/older ${ids[1]}\n`);
    const start = at;
    at = await printed(chat, '-- 1 older message: the oldest there are', at);
    expect(chat.stdout.all.slice(start, at)).toMatch(line('bob: message 1'));

    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });
});

describe('terminal client: read markers', () => {
  it('/read marks the room read up to the newest message shown, and /unread counts', async () => {
    const server = await startTestServer();
    const bob = await watcher(server.url, 'bob');
    const chat = spawnChat(['--name', 'reader', server.url]);
    let at = await printed(chat, String.raw`\* reader joined \(2 online\)`);
    const ack = await bob.socket.emitWithAck('chat', 'read me');
    if (!ack.ok) throw new Error(ack.error);
    at = await printed(chat, 'bob: read me', at);

    chat.write('/read\n');
    at = await printed(chat, `-- marked read up to #${ack.id}`, at);
    await bob.socket.emitWithAck('chat', 'not yet read');
    at = await printed(chat, 'bob: not yet read', at);
    chat.write('/unread\n');
    await printed(chat, '-- lobby: 1 unread', at);
    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });
});

describe('terminal client in raw text mode', () => {
  it('says the message commands are not available there', async () => {
    const server = await startTestServer();
    const chat = spawnChat(['--raw', server.url]);
    await chat.stdout.until(/-- connected to /);
    chat.write('/edit oops\n');
    await printed(chat, String.raw`!! not available in raw text mode \(--raw without --json\): it has no message ids`);
    chat.write('/help\n');
    await chat.stdout.until(/-- \/edit \[ID\] TEXT changes your message/);
    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });
});

describe.each([
  ['socket.io', []],
  ['raw', ['--raw']],
] as const)('terminal client, --listen over %s', (_wire, flags) => {
  it('prints edits, deletes, reactions and read markers as the raw endpoint\'s JSON frames', async () => {
    const server = await startTestServer();
    const chat = spawnChat([...flags, '--listen', '--name', 'ears', server.url]);
    await nextJsonLine<ListenLine>(chat, (l) => l.type === 'notice' && l.kind === 'join' && l.name === 'ears');
    const bob = await watcher(server.url, 'bob');
    const ack = await bob.socket.emitWithAck('chat', 'helo');
    if (!ack.ok) throw new Error(ack.error);
    const { id } = ack;
    expect(await bob.socket.edit(id, 'hello')).toEqual({ ok: true, version: 1 });
    expect(await bob.socket.react(id, '👍')).toEqual({ ok: true, count: 1 });
    expect(await bob.socket.markRead(id)).toEqual({ ok: true });
    expect(await bob.socket.deleteMessage(id)).toEqual({ ok: true });

    const after = (l: ListenLine) => l.type !== 'notice';
    expect(await nextJsonLine<ListenLine>(chat, after)).toMatchObject({ type: 'chat', id, text: 'helo' });
    expect(await nextJsonLine<ListenLine>(chat, after)).toEqual({
      type: 'edit', id, text: 'hello', version: 1, editedAt: expect.any(Number),
    });
    expect(await nextJsonLine<ListenLine>(chat, after)).toEqual({ type: 'reaction', id, emoji: '👍', count: 1 });
    expect(await nextJsonLine<ListenLine>(chat, after)).toEqual({ type: 'read', name: 'bob', id });
    expect(await nextJsonLine<ListenLine>(chat, after)).toEqual({ type: 'delete', id });
    chat.child.kill('SIGINT');
    expect((await chat.exited).code).toBe(0);
  });
});
