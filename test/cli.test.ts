import { chatsOf } from './support/stored-chat';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatMessage, Notice } from '../server/protocol';
import { MAX_QUEUED } from '../client/interactive';
import type { ListenLine } from '../client/scripted';
import { unusedPort } from '../tools/ports';
import { onCleanup } from './support/cleanup';
import { nextJsonLine, ptyAvailable, spawnChat, type ChatProcess } from './support/cli';
import { connectRaw } from './support/raw-client';
import { escapeRegExp } from './support/regexp';
import { JOIN } from './support/seed-strings';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

// Each test starts one or more client processes (about a second each on a busy machine).
jest.setTimeout(60_000);

const TIME = String.raw`\d\d:\d\d:\d\d`;
const ESC = '\x1b';


/** A plain HTTP server that is not a chat server: every request and upgrade gets 404. */
async function notAChatServer(): Promise<string> {
  const server = createServer((_req, res) => res.writeHead(404).end('no chat here\n'));
  onCleanup('servers', () => new Promise((resolve) => server.close(resolve)));
  server.on('upgrade', (_req, socket) => {
    socket.on('error', () => {}); // a client that resets first is no failure of this test
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The prompt with `typed` after it, as readline draws it (it may move the cursor in between). */
const promptWith = (name: string, typed = '') => new RegExp(`${name}> (?:${ESC}\\[\\d+G)?${typed}`);

/** The one line a failing client prints on stderr, after its progress lines. */
async function lastErrorLine(chat: ChatProcess): Promise<string> {
  await chat.exited;
  const lines = chat.stderr.all.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

describe('terminal client, --send', () => {
  it.each(['socket.io', 'raw'] as const)(
    'over %s, sends one message, prints its id and exits 0; the room gets it',
    async (transport) => {
      const server = await startTestServer();
      const reader = await connectSio(server.url, { auth: { name: 'reader' } });
      const seedReader = await connectRaw(server.url);
      await seedReader.messages.next();

      const args = ['--send', 'hello from a script', '--name', 'bot', server.url];
      const chat = spawnChat(transport === 'raw' ? ['--raw', ...args] : args);
      expect(await chat.exited).toEqual({ code: 0, signal: null });

      const id = chat.stdout.all.trim();
      expect(chat.stdout.all).toMatch(/^\d+-\d+\n$/);
      expect(await reader.chats.next()).toEqual({ id, text: 'hello from a script', name: 'bot', at: expect.any(Number) });
      // The seed endpoint gets the same message verbatim, whichever way it was sent.
      await seedReader.messages.next(); // bot's join
      expect(await seedReader.messages.next()).toBe('hello from a script');
      expect(chat.stderr.all).toMatch(/^chat: connecting to room lobby at http:\/\/127\.0\.0\.1:\d+\nchat: connected to /);
    },
  );

  it('exits 1 with the reason when the server refuses the message', async () => {
    const server = await startTestServer({ MAX_MESSAGE_BYTES: '16' });
    const chat = spawnChat(['--send', 'far more than sixteen bytes', server.url]);
    expect((await chat.exited).code).toBe(1);
    expect(await lastErrorLine(chat)).toBe('chat: the server refused the message: too_large');
    expect(chat.stdout.all).toBe('');
  });
});

describe('terminal client, --listen', () => {
  it('prints each event as one JSON line until interrupted, then exits 0', async () => {
    const server = await startTestServer();
    const early = await connectSio(server.url, { auth: { name: 'early' } });
    expect((await early.chat('before the listener')).ok).toBe(true);

    const chat = spawnChat(['--listen', '--name', 'ears', server.url]);
    const history = await nextJsonLine<ListenLine>(chat);
    expect(history).toEqual({ type: 'history', messages: [expect.objectContaining({ text: 'before the listener', name: 'early' })] });
    // Who was here before the listener; its own join follows.
    expect(await nextJsonLine<ListenLine>(chat)).toEqual({ type: 'presence', online: 1, members: [{ name: 'early', connections: 1 }] });
    expect(await nextJsonLine<ListenLine>(chat)).toEqual({
      type: 'notice', kind: 'join', name: 'ears', online: 2, text: expect.any(String), at: expect.any(Number),
    });

    const raw = await connectRaw(server.url, { name: 'rawbob' });
    expect(await nextJsonLine<ListenLine>(chat)).toMatchObject({ type: 'notice', kind: 'join', name: 'rawbob', online: 3 });
    raw.send('from the raw side');
    const ack = await early.chat('from socket.io');
    expect(await nextJsonLine<ListenLine>(chat)).toEqual({
      type: 'chat', id: expect.any(String), text: 'from the raw side', name: 'rawbob', at: expect.any(Number),
    });
    expect(await nextJsonLine<ListenLine>(chat)).toEqual({
      type: 'chat', id: ack.ok ? ack.id : 'ack failed', text: 'from socket.io', name: 'early', at: expect.any(Number),
    });
    early.socket.emit('typing');
    expect(await nextJsonLine<ListenLine>(chat)).toEqual({ type: 'typing', name: 'early' });

    chat.child.kill('SIGINT');
    expect(await chat.exited).toEqual({ code: 0, signal: null });
    // Every line on stdout is JSON; what the client was doing went to stderr.
    for (const line of chat.stdout.all.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    expect(chat.stderr.all).toContain('chat: connected to');
  });

  it('prints the same lines over the raw endpoint as over Socket.IO', async () => {
    const server = await startTestServer();
    const viaSio = spawnChat(['--listen', '--name', 'sio-ears', server.url]);
    const viaRaw = spawnChat(['--listen', '--raw', '--name', 'raw-ears', server.url]);
    await viaSio.stderr.until(/connected to/);
    await viaRaw.stderr.until(/connected to/);

    const talker = await connectSio(server.url, { auth: { name: 'talker' } });
    await talker.chat('same for everyone');
    const isChat = (line: ListenLine) => line.type === 'chat';
    const [a, b] = await Promise.all([nextJsonLine(viaSio, isChat), nextJsonLine(viaRaw, isChat)]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ type: 'chat', text: 'same for everyone', name: 'talker' });
  });

  it.each(['socket.io', 'raw'] as const)(
    'over %s, says when the server goes away, reconnects with backoff when it is back, and carries on',
    async (transport) => {
      const first = await startTestServer();
      const chat = spawnChat([...(transport === 'raw' ? ['--raw'] : []), '--listen', first.url]);
      await chat.stderr.until(/connected to/);

      await first.close();
      const lost = await chat.stderr.until(/chat: (.+); reconnecting in (\d+\.\d) s\n/);
      expect(lost[1]).toMatch(/server/);

      const second = await startTestServer({ PORT: String(first.port) });
      await chat.stderr.until(/chat: connected to/, { from: lost.index });
      const talker = await connectSio(second.url, { auth: { name: 'after' } });
      await talker.chat('after the restart');
      expect(await nextJsonLine<ListenLine>(chat, (line) => line.type === 'chat')).toMatchObject({ text: 'after the restart' });
    },
  );
});

describe('terminal client, failures', () => {
  it.each(['socket.io', 'raw'] as const)(
    'over %s, exits 1 with a one-line reason when no server is running',
    async (transport) => {
      const url = `http://127.0.0.1:${await unusedPort()}`;
      for (const mode of [['--send', 'hi'], ['--listen'], []]) {
        const chat = spawnChat([...(transport === 'raw' ? ['--raw'] : []), ...mode, url]);
        chat.write('typed before anything came of it\n');
        expect((await chat.exited).code).toBe(1);
        expect(await lastErrorLine(chat)).toBe('chat: cannot connect: connection refused (is the server running?)');
      }
    },
  );

  it.each(['socket.io', 'raw'] as const)('over %s, exits 1 saying so when the server refuses it', async (transport) => {
    const url = await notAChatServer();
    const chat = spawnChat([...(transport === 'raw' ? ['--raw'] : []), '--send', 'hi', url]);
    expect((await chat.exited).code).toBe(1);
    expect(await lastErrorLine(chat)).toBe('chat: the server refused the connection (HTTP 404)');
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['--send', 'a', '--listen'], '--send and --listen do not go together'],
    [['--json'], '--json goes with --raw'],
    [['--send', '  '], '--send needs a message'],
    [['--name'], "Option '--name <value>' argument missing"],
    [['localhost:8000'], 'URL must start with http://, https://, ws:// or wss://, not localhost://'],
    [['not a url'], 'not a URL: not a url'],
    [['http://a', 'http://b'], 'expected at most one URL, got 2 arguments'],
    [['--room', 'Ops'], 'not a room name: "Ops" (1-64 of a-z 0-9 - _ . starting with a letter or a digit, no "..")'],
    [['--listen', '--room', 'a..b'], 'not a room name: "a..b" (1-64 of a-z 0-9 - _ . starting with a letter or a digit, no "..")'],
  ])('answers bad usage %j with one line and exit code 2', async (args, message) => {
    const chat = spawnChat(args);
    expect((await chat.exited).code).toBe(2);
    expect(chat.stderr.all).toBe(`chat: ${message} (see --help)\n`);
    expect(chat.stdout.all).toBe('');
  });

  it('prints its usage with --help', async () => {
    const chat = spawnChat(['--help']);
    expect((await chat.exited).code).toBe(0);
    expect(chat.stdout.all).toMatch(/^Usage: npm run -s chat -- \[options\] \[URL\]/);
  });
});

/** Tests that need a pseudo-terminal; skipped, saying why, where util-linux `script` is missing. */
const inTerminal = ptyAvailable ? it : (title: string, fn: () => Promise<void>) => it.skip(`${title} (skipped: no util-linux script)`, fn);

describe('terminal client, interactive', () => {
  it('from a pipe: sends each line, shows time and name on every line, no colour, and leaves at the end', async () => {
    const server = await startTestServer();
    const friend = await connectSio(server.url, { auth: { name: 'friend' } });
    await friend.notices.next();

    const chat = spawnChat(['--name', 'piper', server.url]);
    await chat.stdout.until(/\* piper joined \(2 online\)\n/);
    chat.write('first line\n');
    chat.write('second line\n');
    expect((await friend.chats.take(2)).map((m: ChatMessage) => [m.name, m.text])).toEqual([
      ['piper', 'first line'],
      ['piper', 'second line'],
    ]);
    await friend.chat('hello piper');
    await chat.stdout.until(new RegExp(`^${TIME} friend: hello piper$`, 'm'));

    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
    expect(await friend.notices.next()).toMatchObject({ kind: 'join', name: 'piper' } satisfies Partial<Notice>);
    expect(await friend.notices.next()).toMatchObject({ kind: 'leave', name: 'piper' } satisfies Partial<Notice>);
    expect(chat.stdout.all).toMatch(new RegExp(`^${TIME} -- connecting to room lobby at ${escapeRegExp(server.url)}$`, 'm'));
    for (const line of chat.stdout.all.trim().split('\n')) expect(line).toMatch(new RegExp(`^${TIME} (-- |\\* |[\\w-]+: )`));
    expect(chat.stdout.all).toMatch(new RegExp(`^${TIME} piper: first line$`, 'm'));
    expect(chat.stdout.all).not.toContain(ESC);
  });

  it('shows control characters in messages as symbols instead of obeying them', async () => {
    const server = await startTestServer();
    const chat = spawnChat(['--raw', server.url]);
    await chat.stdout.until(new RegExp(`${escapeRegExp(JOIN)}\n`));
    const prankster = await connectRaw(server.url);
    prankster.send(`${ESC}[2J${ESC}]0;pwned\x07cleared?\rX`);
    const shown = await chat.stdout.until(/^.*cleared\?.*$/m);
    expect(shown[0]).toMatch(new RegExp(`^${TIME} ␛\\[2J␛\\]0;pwned␇cleared\\?␍X$`));
    expect(chat.stdout.all).not.toContain(ESC);
  });

  inTerminal('in a terminal: prints incoming lines above the prompt, in colour, without mangling what is being typed', async () => {
    const server = await startTestServer();
    const friend = await connectSio(server.url, { auth: { name: 'friend' } });
    await friend.notices.next();

    const chat = spawnChat(['--name', 'tty', server.url], { tty: true });
    await chat.stdout.until(promptWith('tty'));
    chat.write('half-typ');
    await chat.stdout.until(promptWith('tty', 'half-typ'));
    // Its typing shows up for Socket.IO users.
    expect(await friend.typings.next()).toEqual({ name: 'tty' });

    const before = chat.stdout.all.length;
    await friend.chat('an interruption');
    await friend.chats.next(); // its own message, back
    const shown = await chat.stdout.until(/an interruption/, { from: before });
    // The line arrives in full, and the prompt with the half-typed text comes back after it.
    await chat.stdout.until(promptWith('tty', 'half-typ'), { from: shown.index });
    expect(chat.stdout.all.slice(before)).toMatch(new RegExp(`${ESC}\\[1m${ESC}\\[36mfriend${ESC}\\[39m${ESC}\\[22m: an interruption`));

    chat.write('ed\r');
    expect(await friend.chats.next()).toMatchObject({ name: 'tty', text: 'half-typed' });
    // A notice looks unlike a chat line: marker and colour.
    friend.socket.disconnect();
    await chat.stdout.until(new RegExp(`${ESC}\\[33m\\* friend left \\(1 online\\)`));

    chat.write('/quit\r');
    expect(await chat.exited).toEqual({ code: 0, signal: null });
    expect(chat.stdout.all).toContain('-- disconnected');
  });

  inTerminal('in a terminal: Ctrl-D leaves cleanly', async () => {
    const server = await startTestServer();
    const watcher = await connectSio(server.url);
    await watcher.notices.next();
    const chat = spawnChat(['--name', 'leaver', server.url], { tty: true });
    await chat.stdout.until(promptWith('leaver'));
    chat.write('\x04');
    expect(await chat.exited).toEqual({ code: 0, signal: null });
    expect(await watcher.notices.take(2)).toMatchObject([{ kind: 'join', name: 'leaver' }, { kind: 'leave', name: 'leaver' }]);
  });
});

describe('terminal client, rooms', () => {
  it.each(['socket.io', 'raw'] as const)(
    'over %s, --send --room reaches a listener in that room and not one in the lobby',
    async (transport) => {
      const server = await startTestServer();
      const inAlpha = await connectSio(server.url, { room: 'alpha', auth: { name: 'alpha-reader' } });
      const inLobby = await connectSio(server.url, { auth: { name: 'lobby-reader' } });

      const args = ['--send', 'for alpha only', '--room', 'alpha', '--name', 'bot', server.url];
      const chat = spawnChat(transport === 'raw' ? ['--raw', ...args] : args);
      expect(await chat.exited).toEqual({ code: 0, signal: null });
      expect(await inAlpha.chats.next()).toEqual({ id: chat.stdout.all.trim(), text: 'for alpha only', name: 'bot', at: expect.any(Number) });
      expect(chat.stderr.all).toMatch(/^chat: connecting to room alpha at http:\/\/127\.0\.0\.1:\d+\n/);

      // Had the message leaked into the lobby, it would have reached the lobby reader before this one.
      await inLobby.chat('lobby marker');
      expect((await inLobby.chats.next()).text).toBe('lobby marker');
    },
  );

  it.each(['socket.io', 'raw'] as const)('over %s, --listen --room prints that room\'s events only', async (transport) => {
    const server = await startTestServer();
    const chat = spawnChat([...(transport === 'raw' ? ['--raw'] : []), '--listen', '--room', 'alpha', '--name', 'ears', server.url]);
    await nextJsonLine<ListenLine>(chat, (line) => line.type === 'notice' && line.kind === 'join' && line.name === 'ears');

    const lobbyTalker = await connectRaw(server.url, { name: 'lobby-talker' });
    lobbyTalker.send('said in the lobby');
    const alphaTalker = await connectRaw(server.url, { name: 'alpha-talker' }, {}, { room: 'alpha' });
    alphaTalker.send('said in alpha');

    // The lobby talker's join and message came first; only alpha's reach the listener.
    expect(await nextJsonLine<ListenLine>(chat)).toMatchObject({ type: 'notice', kind: 'join', name: 'alpha-talker', online: 2 });
    expect(await nextJsonLine<ListenLine>(chat)).toMatchObject({ type: 'chat', text: 'said in alpha', name: 'alpha-talker' });
    expect(chat.stderr.all).toContain('chat: connected to room alpha at ');
    chat.child.kill('SIGINT');
    expect((await chat.exited).code).toBe(0);
    expect(chat.stdout.all).not.toContain('lobby-talker');
  });

  it.each([
    ['socket.io', 'chat: the server refused the room: it has as many rooms open as it allows'],
    ['raw', 'chat: the server refused the connection (HTTP 503)'],
  ] as const)('over %s, exits 1 saying so when the server has no room for another room', async (transport, reason) => {
    const server = await startTestServer({ MAX_ROOMS: '2' }); // the lobby, always open, and one room
    await connectSio(server.url, { room: 'first' });
    const chat = spawnChat([...(transport === 'raw' ? ['--raw'] : []), '--send', 'hi', '--room', 'second', server.url]);
    expect((await chat.exited).code).toBe(1);
    expect(await lastErrorLine(chat)).toBe(reason);
  });

  it('interactive: /join moves to another room, says so, and sends there', async () => {
    const server = await startTestServer();
    const lobby = await connectSio(server.url, { auth: { name: 'lobby-watcher' } });
    const beta = await connectSio(server.url, { room: 'beta', auth: { name: 'beta-watcher' } });
    expect(await lobby.notices.next()).toMatchObject({ kind: 'join', name: 'lobby-watcher' });
    expect(await beta.notices.next()).toMatchObject({ kind: 'join', name: 'beta-watcher' });

    const chat = spawnChat(['--name', 'mover', server.url]);
    await chat.stdout.until(/\* mover joined \(2 online\)\n/);
    expect(await lobby.notices.next()).toMatchObject({ kind: 'join', name: 'mover' });
    chat.write('/join beta\n');
    await chat.stdout.until(/-- leaving room lobby for room beta\n/);
    await chat.stdout.until(/-- connected to room beta at /);
    expect(await lobby.notices.next()).toMatchObject({ kind: 'leave', name: 'mover', online: 1 });
    expect(await beta.notices.next()).toMatchObject({ kind: 'join', name: 'mover', online: 2 });

    chat.write('hello beta\n');
    expect(await beta.chats.next()).toMatchObject({ name: 'mover', text: 'hello beta' });
    await lobby.chat('lobby marker');
    expect((await lobby.chats.next()).text).toBe('lobby marker');

    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });

  it('interactive: /join to a room the server turns down says why and goes back', async () => {
    const server = await startTestServer({ MAX_ROOMS: '2' }); // the lobby, always open, and one room
    const first = await connectSio(server.url, { room: 'first', auth: { name: 'watcher' } });
    await first.notices.next();
    const chat = spawnChat(['--room', 'first', '--name', 'bouncer', server.url]);
    await chat.stdout.until(/\* bouncer joined \(2 online\)\n/);

    chat.write('/join second\n');
    await chat.stdout.until(
      /!! cannot join room second: the server refused the room: it has as many rooms open as it allows; back to room first\n/,
    );
    await chat.stdout.until(/-- connected to room first at /);
    expect(await first.notices.take(2)).toMatchObject([
      { kind: 'join', name: 'bouncer' },
      { kind: 'leave', name: 'bouncer' },
    ]);
    expect(await first.notices.next()).toMatchObject({ kind: 'join', name: 'bouncer' });
    chat.write('back in first\n');
    expect(await first.chats.next()).toMatchObject({ name: 'bouncer', text: 'back in first' });
    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });

  it('interactive: /join with a malformed name says why and stays in the room', async () => {
    const server = await startTestServer();
    const watcher = await connectSio(server.url, { auth: { name: 'watcher' } });
    const chat = spawnChat(['--name', 'stayer', server.url]);
    await chat.stdout.until(/\* stayer joined \(2 online\)\n/);

    chat.write('/join Not..A-Room\n');
    await chat.stdout.until(new RegExp(`^${TIME} !! not a room name: "Not\\.\\.A-Room" \\(1-64 of a-z 0-9 - _ \\. starting with a letter or a digit, no "\\.\\."\\)$`, 'm'));
    chat.write('/help\n');
    await chat.stdout.until(/-- \/join ROOM leaves this room for ROOM/);
    await chat.stdout.until(/-- you are in room lobby\n/);
    chat.write('still here\n');
    expect(await watcher.chats.next()).toMatchObject({ name: 'stayer', text: 'still here' });
    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });

  inTerminal('in a terminal: the prompt shows the room and the name', async () => {
    const server = await startTestServer();
    const chat = spawnChat(['--name', 'tty', server.url], { tty: true });
    await chat.stdout.until(/\[lobby\] tty> /);
    chat.write('/quit\r');
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });
});

describe('terminal client, interactive, while the connection is down', () => {
  it.each(['socket.io', 'raw'] as const)(
    'over %s, queues what is typed, up to a bound, and sends it in order once the connection is back',
    async (transport) => {
      const first = await startTestServer();
      const chat = spawnChat([...(transport === 'raw' ? ['--raw'] : []), '--name', 'queuer', first.url]);
      await chat.stdout.until(/-- connected to /);
      await first.close();
      const lost = await chat.stdout.until(/; reconnecting in \d+\.\d s\n/);

      const lines = Array.from({ length: MAX_QUEUED + 1 }, (_, i) => `offline ${i + 1}`);
      chat.write(lines.map((line) => `${line}\n`).join(''));
      await chat.stdout.until(/-- not connected: queued \(1 waiting, sent once the connection is back\)\n/, { from: lost.index });
      await chat.stdout.until(new RegExp(`-- not connected: queued \\(${MAX_QUEUED} waiting`), { from: lost.index });
      await chat.stdout.until(new RegExp(`!! not connected and ${MAX_QUEUED} queued messages already: dropped offline ${MAX_QUEUED + 1}\n`));

      const second = await startTestServer({ PORT: String(first.port) });
      const back = await chat.stdout.until(/-- connected to /, { from: lost.index });
      await chat.stdout.until(new RegExp(`^${TIME} -- sending ${MAX_QUEUED} queued messages\n`, 'm'), { from: back.index });
      await chat.stdout.until(new RegExp(`^${TIME} -- sent ${MAX_QUEUED} queued messages\n`, 'm'), { from: back.index });
      // The new server's history is what it received, in the order it was typed.
      const reader = await connectSio(second.url, { auth: { name: 'reader' } });
      const history = await reader.histories.next();
      expect(chatsOf(history).map((m) => [m.name, m.text])).toEqual(lines.slice(0, MAX_QUEUED).map((text) => ['queuer', text]));

      // Typed once connected again, a line goes out at once, after them.
      chat.write('online again\n');
      expect(await reader.chats.next()).toMatchObject({ name: 'queuer', text: 'online again' });
      chat.end();
      expect(await chat.exited).toEqual({ code: 0, signal: null });
    },
  );

  it('says what it could not send when it leaves before the connection is back', async () => {
    const server = await startTestServer();
    const chat = spawnChat(['--name', 'leaver', server.url]);
    await chat.stdout.until(/-- connected to /);
    await server.close();
    await chat.stdout.until(/; reconnecting in \d+\.\d s\n/);
    chat.write('lost cause 1\nlost cause 2\n');
    await chat.stdout.until(/-- not connected: queued \(2 waiting/);
    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
    expect(chat.stdout.all).toMatch(new RegExp(`^${TIME} !! 2 queued messages not sent: left before the connection came back$`, 'm'));
  });
});

describe('terminal client, who is typing', () => {
  /**
   * The status line going away with nothing printed in its place: one row up, the screen
   * cleared from there, and readline's prompt straight away (cursor moves aside).
   */
  const statusLineGone = (name: string) =>
    new RegExp(`${ESC}\\[1A(?:${ESC}\\[\\d*G|${ESC}\\[0?J)+\\[lobby\\] ${name}> `);

  inTerminal('in a terminal: shows who is typing on the status line, several names, until their message comes or a few seconds pass', async () => {
    const server = await startTestServer();
    const ann = await connectSio(server.url, { auth: { name: 'ann' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    const chat = spawnChat(['--name', 'tty', server.url], { tty: true });
    await chat.stdout.until(promptWith('tty'));

    ann.socket.emit('typing');
    const one = await chat.stdout.until(/ann is typing…/);
    bob.socket.emit('typing');
    const two = await chat.stdout.until(/ann and bob are typing…/, { from: one.index });

    // Ann's message ends her hint; Bob's stays, under the messages and above the prompt.
    await ann.chat('done typing');
    const line = await chat.stdout.until(/ann\S*: done typing\r?\n/, { from: two.index });
    const prompt = await chat.stdout.until(promptWith('tty'), { from: line.index });
    const below = chat.stdout.all.slice(line.index + line[0].length, prompt.index);
    expect(below).toContain('bob is typing…');
    expect(below).not.toContain('ann');

    // Nothing more from Bob: his hint goes after a few seconds (TYPING_SHOW_MS).
    await chat.stdout.until(statusLineGone('tty'), { from: prompt.index });
    chat.write('/quit\r');
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });
});
