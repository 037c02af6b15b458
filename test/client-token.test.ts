/**
 * Token support in the clients: `--token` / CHAT_TOKEN_FILE in the terminal client,
 * `#token=` on the /chat page, `token` in connectChat; and what each says when the server
 * refuses the token (unauthorized, forbidden for a room) or ends a session at its expiry.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { connectChat } from '../client/connect';
import { tokenExpired } from '../client/shared/format';
import type { RunningServer } from '../server/process/server';
import { describeWithBrowser } from './support/browser';
import { onCleanup } from './support/cleanup';
import { spawnChat, type ChatProcess } from './support/cli';
import { connectRaw } from './support/raw-client';
import { startTestServer } from './support/server';
import { nowSeconds, signingKey, signToken } from './support/jwt';
import { JOIN, LEAVE } from './support/seed-strings';
import { connectSio } from './support/sio-client';

jest.setTimeout(90_000);

const TOKEN = 's3cret';

/** The one line a failing client prints on stderr, after its progress lines. */
async function lastErrorLine(chat: ChatProcess): Promise<string> {
  await chat.exited;
  const lines = chat.stderr.all.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** A file holding `text`, removed with the rest of the temporary directory by the OS. */
function tokenFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'chat-token-')), 'token');
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** An unsigned JWT-shaped token whose `exp` is `secondsFromNow` away. */
function jwtExpiringIn(secondsFromNow: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'x', exp: Math.floor(Date.now() / 1000) + secondsFromNow })}.c2ln`;
}

/**
 * The real server with JWT on (HS256): `rooms` in a token limits where it may go, and a
 * connection ends at its token's `exp`.
 */
async function jwtServer(): Promise<{ url: string; sign: (claims: Record<string, unknown>) => Promise<string> }> {
  const key = await signingKey('HS256');
  const server = await startTestServer(key.env);
  return { url: server.url, sign: (claims) => signToken(key, { sub: 'mover', ...claims }) };
}

describe('terminal client with a token', () => {
  it.each(['socket.io', 'raw'] as const)('over %s, --send with the right token delivers the message', async (transport) => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const reader = await connectSio(server.url, { auth: { name: 'reader', token: TOKEN } });
    await reader.notices.next();
    const args = ['--send', 'with a token', '--name', 'bot', '--token', TOKEN, server.url];
    const chat = spawnChat(transport === 'raw' ? ['--raw', ...args] : args);
    expect(await chat.exited).toEqual({ code: 0, signal: null });
    expect(await reader.chats.next()).toMatchObject({ name: 'bot', text: 'with a token', id: chat.stdout.all.trim() });
    expect(chat.stdout.all + chat.stderr.all).not.toContain(TOKEN);
  });

  it.each(['socket.io', 'raw'] as const)('over %s, --send with a wrong token exits 1 saying the server refused it', async (transport) => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const args = ['--send', 'hi', '--token', 'wrong-token', server.url];
    const chat = spawnChat(transport === 'raw' ? ['--raw', ...args] : args);
    expect((await chat.exited).code).toBe(1);
    expect(await lastErrorLine(chat)).toBe('chat: the server refused the token (unauthorized)');
    expect(chat.stdout.all).toBe('');
    expect(chat.stderr.all).not.toContain('wrong-token');
  });

  it('without a token, says the server needs one', async () => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const chat = spawnChat(['--listen', server.url]);
    expect((await chat.exited).code).toBe(1);
    expect(await lastErrorLine(chat)).toBe('chat: the server needs a token (unauthorized)');
  });

  it('reads the token from CHAT_TOKEN_FILE (trailing newline dropped); --token wins over it', async () => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const reader = await connectSio(server.url, { auth: { name: 'reader', token: TOKEN } });
    await reader.notices.next();
    const env = { CHAT_TOKEN_FILE: tokenFile(`${TOKEN}\n`) };

    const fromFile = spawnChat(['--raw', '--send', 'from the file', '--name', 'filer', server.url], { env });
    expect(await fromFile.exited).toEqual({ code: 0, signal: null });
    expect(await reader.chats.next()).toMatchObject({ name: 'filer', text: 'from the file' });

    const overridden = spawnChat(['--send', 'hi', '--token', 'wrong-token', server.url], { env });
    expect((await overridden.exited).code).toBe(1);
    expect(await lastErrorLine(overridden)).toBe('chat: the server refused the token (unauthorized)');
  });

  it('--listen with a token prints what the room says', async () => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const chat = spawnChat(['--listen', '--raw', '--room', 'ops', '--name', 'ears', server.url], {
      env: { CHAT_TOKEN_FILE: tokenFile(TOKEN) },
    });
    await chat.stderr.until(/connected to room ops/);
    const talker = await connectSio(server.url, { room: 'ops', auth: { name: 'talker', token: TOKEN } });
    expect((await talker.chat('heard?')).ok).toBe(true);
    await chat.stdout.until(/"text":"heard\?"/);
    chat.child.kill('SIGINT');
    expect((await chat.exited).code).toBe(0);
  });

  it.each([
    [{ CHAT_TOKEN_FILE: '/nonexistent/token' }, 'cannot read CHAT_TOKEN_FILE /nonexistent/token: no such file'],
    [{ CHAT_TOKEN_FILE: tmpdir() }, `cannot read CHAT_TOKEN_FILE ${tmpdir()}: a directory`],
    [{ CHAT_TOKEN_FILE: '<empty>' }, 'CHAT_TOKEN_FILE <empty> holds no token'],
  ])('answers an unusable CHAT_TOKEN_FILE %j with one usage line and exit code 2', async (env, message) => {
    let path = env.CHAT_TOKEN_FILE;
    if (path === '<empty>') path = tokenFile('\n');
    const chat = spawnChat(['--send', 'hi', 'http://127.0.0.1:9'], { env: { CHAT_TOKEN_FILE: path } });
    expect((await chat.exited).code).toBe(2);
    expect(chat.stderr.all).toBe(`chat: ${message.replace('<empty>', path)} (see --help)\n`);
  });

  it('answers an empty --token as bad usage; --help tells about --token and CHAT_TOKEN_FILE', async () => {
    const empty = spawnChat(['--token', '', 'http://127.0.0.1:9']);
    expect((await empty.exited).code).toBe(2);
    expect(empty.stderr.all).toBe('chat: --token needs a token (see --help)\n');
    const help = spawnChat(['--help']);
    expect((await help.exited).code).toBe(0);
    expect(help.stdout.all).toMatch(/--token TOKEN/);
    expect(help.stdout.all).toMatch(/CHAT_TOKEN_FILE/);
  });

  it('interactive with a wrong token says the server refused it and exits 1 instead of retrying', async () => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const chat = spawnChat(['--token', 'wrong-token', server.url]);
    expect((await chat.exited).code).toBe(1);
    expect(await lastErrorLine(chat)).toBe('chat: the server refused the token (unauthorized)');
    expect(chat.stdout.all).not.toMatch(/reconnect|retry/i);
  });

  it('interactive: /join with the token sends there too', async () => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const beta = await connectRaw(server.url, { token: TOKEN, name: 'beta-reader' }, {}, { room: 'beta' });
    expect(await beta.messages.next()).toBe(JOIN);
    const chat = spawnChat(['--name', 'mover', '--token', TOKEN, server.url]);
    await chat.stdout.until(/\* mover joined \(1 online\)\n/);
    chat.write('/join beta\n');
    await chat.stdout.until(/\* mover joined \(2 online\)\n/);
    chat.write('hello beta\n');
    expect(await beta.messages.next()).toBe(JOIN);
    expect(await beta.messages.next()).toBe('hello beta');
    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });

  it.each(['socket.io', 'raw'] as const)('over %s, a room the token does not allow: --send exits 1 saying so', async (transport) => {
    const { url, sign } = await jwtServer();
    const args = ['--send', 'hi', '--room', 'forbidden-room', '--token', await sign({ rooms: ['lobby'] }), url];
    const chat = spawnChat(transport === 'raw' ? ['--raw', ...args] : args);
    expect((await chat.exited).code).toBe(1);
    expect(await lastErrorLine(chat)).toBe('chat: the server refused the token: it does not allow room forbidden-room (forbidden)');
  });

  it.each(['socket.io', 'raw'] as const)('over %s, interactive: /join to a room the token does not allow says why and goes back', async (transport) => {
    const { url, sign } = await jwtServer();
    const chat = spawnChat([...(transport === 'raw' ? ['--raw'] : []), '--token', await sign({ rooms: ['lobby'] }), url]);
    await chat.stdout.until(/-- connected to room lobby at /);
    chat.write('/join forbidden-room\n');
    await chat.stdout.until(
      /!! cannot join room forbidden-room: the server refused the token: it does not allow room forbidden-room \(forbidden\); back to room lobby\n/,
    );
    await chat.stdout.until(/-- connected to room lobby at /, { from: chat.stdout.all.indexOf('back to room lobby') });
    chat.end();
    expect(await chat.exited).toEqual({ code: 0, signal: null });
  });

  it.each(['socket.io', 'raw'] as const)('over %s, interactive: at the token\'s expiry says so and exits 1, without reconnecting', async (transport) => {
    const { url, sign } = await jwtServer();
    const chat = spawnChat([...(transport === 'raw' ? ['--raw'] : []), '--token', await sign({ exp: nowSeconds() + 2 }), url]);
    await chat.stdout.until(/-- connected to room lobby at /);
    expect((await chat.exited).code).toBe(1);
    expect(await lastErrorLine(chat)).toBe('chat: token expired: the server ended the session');
    expect(chat.stdout.all).not.toMatch(/reconnect/);
  });

  it.each(['socket.io', 'raw'] as const)('over %s, at the token\'s expiry --listen says so and exits 1, without reconnecting', async (transport) => {
    const { url, sign } = await jwtServer();
    const chat = spawnChat([...(transport === 'raw' ? ['--raw'] : []), '--listen', '--token', await sign({ exp: nowSeconds() + 2 }), url]);
    await chat.stderr.until(/connected to room lobby/);
    expect((await chat.exited).code).toBe(1);
    expect(await lastErrorLine(chat)).toBe('chat: token expired: the server ended the session');
    expect(chat.stderr.all).not.toMatch(/reconnect/);
  });
});

describe('connectChat with a token', () => {
  it('sends it as auth.token; a wrong one is refused with connect_error unauthorized', async () => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const good = connectChat(server.url, { name: 'scripted', token: TOKEN, forceNew: true, reconnection: false });
    onCleanup('clients', () => void good.close());
    await new Promise<void>((resolve, reject) => {
      good.once('connect', resolve);
      good.once('connect_error', reject);
    });
    const bad = connectChat(server.url, { token: 'wrong', forceNew: true, reconnection: false });
    onCleanup('clients', () => void bad.close());
    const refusal = await new Promise<Error>((resolve) => bad.once('connect_error', resolve));
    expect(refusal.message).toBe('unauthorized');
  });
});

describe('tokenExpired', () => {
  it('reads a JWT\'s exp, with a minute of leeway; anything else never expires', () => {
    expect(tokenExpired(jwtExpiringIn(-10))).toBe(true);
    expect(tokenExpired(jwtExpiringIn(30))).toBe(true);
    expect(tokenExpired(jwtExpiringIn(3600))).toBe(false);
    expect(tokenExpired('s3cret')).toBe(false);
    expect(tokenExpired('a.b.c')).toBe(false);
  });
});

describeWithBrowser('the /chat page with a token', (browser) => {
  const WAIT = { timeout: 15_000 };

  /** Every request line (and upgrade) the server was sent, as `METHOD /path?query`. */
  function requestLines(server: RunningServer): string[] {
    const lines: string[] = [];
    const record = (req: IncomingMessage) => lines.push(`${req.method ?? '?'} ${req.url ?? ''}`);
    const http = server.io.httpServer as HttpServer;
    http.prependListener('request', record);
    http.prependListener('upgrade', record);
    return lines;
  }

  async function open(url: string, fragment: string, name: string, transport: 'socket.io' | 'raw' = 'socket.io'): Promise<{ page: Page; console: string[] }> {
    const page = await browser.open(`${url}/chat${fragment}`, {
      viewport: { width: 900, height: 700 },
      storage: { 'chat-bridge.name': name, 'chat-bridge.transport': transport },
    });
    const console: string[] = [];
    page.on('console', (message) => console.push(message.text()));
    return { page, console };
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.locator('#text').fill(text);
    await page.locator('#text').press('Enter');
  }

  it('/chat#token=s3cret chats; the token is in no request line, not in the address bar, not on the page', async () => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const reader = await connectRaw(server.url, { token: TOKEN, name: 'reader' });
    expect(await reader.messages.next()).toBe(JOIN);
    // From here on, only the page talks to the server.
    const lines = requestLines(server);

    const { page, console } = await open(server.url, `#token=${TOKEN}`, 'alice');
    await page.locator('#status[data-state="connected"]').waitFor(WAIT);
    expect(await reader.messages.next()).toBe(JOIN);
    await say(page, 'hi with a token');
    expect(await reader.messages.next()).toBe('hi with a token');
    await page.locator('#messages li.chat', { hasText: 'hi with a token' }).waitFor(WAIT);

    expect(await page.evaluate<string>('window.location.hash')).toBe('#room=lobby');
    expect(await page.locator('body').innerText()).not.toContain(TOKEN);
    expect(console.join('\n')).not.toContain(TOKEN);
    // The page, its scripts and the Socket.IO session (long-polling, then its upgrade) all
    // went by; the token went only inside the handshake's CONNECT packet.
    expect(lines.some((line) => line.startsWith('GET /chat'))).toBe(true);
    expect(lines.some((line) => line.startsWith('GET /socket.io/'))).toBe(true);
    for (const line of lines) expect(line).not.toContain(TOKEN);

    // A reload still has it (kept for the tab), though the address bar no longer does.
    await page.reload();
    await page.locator('#status[data-state="connected"]').waitFor(WAIT);
    expect(await reader.messages.take(2)).toEqual([LEAVE, JOIN]);
    for (const line of lines) expect(line).not.toContain(TOKEN);
  });

  it('#room=design&token=... over the raw endpoint chats in design, and keeps the token for /join-ing another room', async () => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const design = await connectRaw(server.url, { token: TOKEN }, {}, { room: 'design' });
    const ops = await connectRaw(server.url, { token: TOKEN }, {}, { room: 'ops' });
    expect(await design.messages.next()).toBe(JOIN);
    expect(await ops.messages.next()).toBe(JOIN);

    const { page } = await open(server.url, `#room=design&token=${TOKEN}`, 'rawpage', 'raw');
    await page.locator('#status[data-state="connected"]').waitFor(WAIT);
    expect(await page.locator('#room-label').textContent()).toBe('# design');
    expect(await page.evaluate<string>('window.location.hash')).toBe('#room=design');
    expect(await design.messages.next()).toBe(JOIN);
    await say(page, 'raw with a token');
    expect(await design.messages.next()).toBe('raw with a token');

    await page.locator('#room').fill('ops');
    await page.locator('#room-form button').click();
    expect(await ops.messages.next()).toBe(JOIN);
    await page.locator('#status[data-state="connected"]').waitFor(WAIT);
    await say(page, 'in ops');
    expect(await ops.messages.next()).toBe('in ops');
  });

  it('/chat#token=wrong says the server refused the token, and stops trying', async () => {
    const server = await startTestServer({ CHAT_TOKEN: TOKEN });
    const lines = requestLines(server);
    const { page } = await open(server.url, '#token=wrong', 'alice');
    await page
      .locator('#access-problem', { hasText: /^The server refused the token \(unauthorized\)\. Open the page with a valid token: \/chat#token=…$/ })
      .waitFor(WAIT);
    await page.locator('#status[data-state="failed"]').waitFor(WAIT);
    expect(await page.locator('#status-text').textContent()).toBe('Offline: the server refused the token (unauthorized)');
    expect(await page.locator('body').innerText()).not.toContain('wrong');

    // A link with the right token, no reload: it connects.
    const handshakes = lines.filter((line) => line.startsWith('GET /socket.io/')).length;
    await page.evaluate(`window.location.hash = ${JSON.stringify(`#token=${TOKEN}`)}`);
    await page.locator('#status[data-state="connected"]').waitFor(WAIT);
    expect(await page.locator('#access-problem').isHidden()).toBe(true);
    expect(lines.filter((line) => line.startsWith('GET /socket.io/')).length).toBeGreaterThan(handshakes);
    expect(await page.evaluate<string>('window.location.hash')).toBe('#room=lobby');
  });
});
