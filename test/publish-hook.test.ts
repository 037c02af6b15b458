/**
 * The publish hook (PUBLISH_HOOK_URL, issue #23): a real hook in a process of its own
 * (test/support/publish-hook-process.ts) that verifies each request's signature and
 * answers by the message's text, asked by a real server about what real Socket.IO, raw
 * JSON and raw text clients send: allow, reject, replace, failures, edits, order per room.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { nodeConnectors } from '../client/connect';
import { ChatSession } from '../client/shared/session';
import { JOIN_TEXT, LEAVE_TEXT, type ChatAck, type ChatMessage, type Notice } from '../server/protocol';
import { createLogger } from '../server/support/logger';
import { unusedPort } from '../tools/ports';
import { TSX_NODE_FLAGS } from '../tools/tsx';
import { API_TEST_KEY, postMessage } from './support/api';
import { onCleanup } from './support/cleanup';
import { EventQueue } from './support/event-queue';
import { signToken } from './support/jwt';
import { freshDataDir } from './support/data-dir';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { changeQueues, nextFrameOf, rawRequest } from './support/room-events';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';
import { waitUntil } from './support/wait';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const HOOK_SCRIPT = path.join(__dirname, 'support/publish-hook-process.ts');
const BADWORD_REASON = 'badword is not welcome here';
const UNAVAILABLE = { ok: false, error: 'unavailable', reason: 'publish hook unavailable' };

interface HookLine {
  type: 'listening' | 'held' | 'answered' | 'invalid';
  port?: number;
  key?: string;
  id?: string;
  body?: Record<string, unknown>;
  status?: number | null;
  reason?: string;
}

/** The hook process, listening; what it prints, by kind; `release` answers what it holds under `key`. */
async function startHook(secret = SECRET, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [...TSX_NODE_FLAGS, HOOK_SCRIPT], {
    env: { PATH: process.env.PATH ?? '', WEBHOOK_SECRET: secret, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  onCleanup('servers', () => {
    child.kill();
    return exited;
  });
  const queues = {
    listening: new EventQueue<HookLine>('hook listening'),
    held: new EventQueue<HookLine>('hook held'),
    answered: new EventQueue<HookLine>('hook answered'),
    invalid: new EventQueue<HookLine>('hook invalid'),
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    const parsed = JSON.parse(line) as HookLine;
    queues[parsed.type].push(parsed);
  });
  const { port } = await queues.listening.next(15_000);
  return {
    url: `http://127.0.0.1:${port}/hook`,
    held: queues.held,
    answered: queues.answered,
    invalid: queues.invalid,
    release: (key: string) => child.stdin.write(`release ${key}\n`),
  };
}

/** A server that asks `hookUrl` (memory store, logs off). */
function chatServer(hookUrl: string, env: Record<string, string> = {}) {
  return startTestServer({ DATA_DIR: ':memory:', PUBLISH_HOOK_URL: hookUrl, WEBHOOK_SECRET: SECRET, ...env });
}

/** A raw client that has joined its room (its own join notice came). */
async function joinedRaw(url: string, query: Record<string, string>, room?: string): Promise<RawTestClient> {
  const client = await connectRaw(url, query, {}, room === undefined ? {} : { room });
  if (query.format === 'json') await nextFrameOf(client, 'notice');
  else expect(await client.messages.next()).toBe(JOIN_TEXT);
  return client;
}

/** A raw text client's next chat frame (notices skipped). */
async function nextText(client: RawTestClient): Promise<string> {
  for (;;) {
    const text = await client.messages.next();
    if (text !== JOIN_TEXT && text !== LEAVE_TEXT) return text;
  }
}

/** The value of one sample of the server's /metrics, 0 when absent. */
async function metric(url: string, sample: string): Promise<number> {
  const body = await (await fetch(`${url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** Waits until /metrics (rendered at most once a second) shows `sample` at `value`. */
async function metricReaches(url: string, sample: string, value: number): Promise<void> {
  let last = 0;
  await waitUntil(async () => (last = await metric(url, sample)) === value, `${sample} to be ${value} (last ${last})`);
}

/** Three clients of the lobby: ann (Socket.IO), bob (raw JSON), carl (raw text, the seed's). */
async function lobby(url: string) {
  const ann = await connectSio(url, { auth: { name: 'ann' } });
  const bob = await joinedRaw(url, { format: 'json', name: 'bob' });
  const carl = await joinedRaw(url, {});
  return { ann, bob, carl };
}

test('allow: the hook is asked, signed, about each client message, and an allowed one reaches everyone as sent', async () => {
  const hook = await startHook();
  const server = await chatServer(hook.url);
  const { ann, bob, carl } = await lobby(server.url);

  const ack = await ann.chat('hello there');
  expect(ack).toMatchObject({ ok: true });
  const asked = await hook.answered.next();
  expect(asked.body).toEqual({ room: 'lobby', name: 'ann', text: 'hello there' });
  expect(asked.id).toMatch(/^hook_./);
  expect(await ann.chats.next()).toMatchObject({ id: (ack as { id: string }).id, text: 'hello there', name: 'ann' });
  expect(await nextFrameOf(bob, 'chat')).toMatchObject({ text: 'hello there', name: 'ann' });
  expect(await nextText(carl)).toBe('hello there');

  carl.send('from the seed client');
  const second = await hook.answered.next();
  expect(second.body).toMatchObject({ room: 'lobby', text: 'from the seed client' });
  expect(second.id).toMatch(/^hook_./);
  expect(second.id).not.toBe(asked.id);
  expect(await ann.chats.next()).toMatchObject({ text: 'from the seed client' });
  expect(await nextText(carl)).toBe('from the seed client');
  await metricReaches(server.url, 'chat_publish_hook_requests_total{verdict="allow"}', 2);
});

test('reject: the sender is told why on both wires, and nobody receives the message', async () => {
  const hook = await startHook();
  const server = await chatServer(hook.url);
  const { ann, bob, carl } = await lobby(server.url);

  expect(await ann.chat('a badword here')).toEqual({ ok: false, error: 'rejected', reason: BADWORD_REASON });
  bob.send('badword again');
  expect(await nextFrameOf(bob, 'error')).toEqual({ type: 'error', error: 'rejected', reason: BADWORD_REASON });
  expect(await rawRequest(bob, { type: 'chat', text: 'badword, as a request' })).toEqual(expect.objectContaining({ type: 'error', error: 'rejected', reason: BADWORD_REASON }));
  // A text-mode client has no error frame: its message simply goes nowhere.
  carl.send('badword from the seed client');
  await waitUntil(() => hook.answered.pending.length === 4, 'the hook to have answered all four');
  ann.socket.emit('chat', 'clean');
  expect(await ann.chats.next()).toMatchObject({ text: 'clean' });
  expect(await nextFrameOf(bob, 'chat')).toMatchObject({ text: 'clean' });
  expect(await nextText(carl)).toBe('clean');
  await metricReaches(server.url, 'chat_publish_hook_requests_total{verdict="reject"}', 4);
  expect(await metric(server.url, 'chat_rejected_total{reason="publish_hook"}')).toBe(4);
});

test("the clients' own sessions, on either link, fail a refused message with its code and the hook's reason", async () => {
  const hook = await startHook();
  const server = await chatServer(hook.url);
  const ignore = () => undefined;
  for (const transport of ['raw', 'socket.io'] as const) {
    const notices = new EventQueue<Notice>(`${transport} session notices`);
    const session = new ChatSession({
      url: server.url,
      transport,
      rawFormat: 'json',
      name: `via-${transport}`,
      retry: 'never',
      connectors: nodeConnectors,
      handlers: { status: ignore, chat: ignore, notice: (notice) => notices.push(notice), history: ignore, presence: ignore, typing: ignore, seedFrame: ignore },
    });
    onCleanup('clients', () => session.close());
    session.start();
    await notices.next();
    await expect(session.send('badword')).rejects.toMatchObject({ code: 'rejected', reason: BADWORD_REASON });
    // The refusal took the place of its ack: the next message gets its own id.
    expect(await session.send('fine')).toEqual(expect.stringMatching(/^\d+-\d+$/));
  }
});

test('replace: everyone, the sender included, sees the replaced text, and so does history', async () => {
  const hook = await startHook();
  const server = await chatServer(hook.url);
  const { ann, bob, carl } = await lobby(server.url);

  const ack = (await ann.chat('darn it, darn')) as { ok: true; id: string };
  expect(ack.ok).toBe(true);
  expect(await ann.chats.next()).toMatchObject({ id: ack.id, text: '**** it, ****' });
  expect(await nextFrameOf(bob, 'chat')).toMatchObject({ id: ack.id, text: '**** it, ****' });
  expect(await nextText(carl)).toBe('**** it, ****');
  bob.send('darn from raw');
  expect(await nextFrameOf(bob, 'chat')).toMatchObject({ name: 'bob', text: '**** from raw' });

  const later = await connectSio(server.url, { auth: { name: 'dave' } });
  const history = await later.histories.next();
  expect(history.map((m) => (m as ChatMessage).text)).toEqual(['**** it, ****', '**** from raw']);
  await metricReaches(server.url, 'chat_publish_hook_requests_total{verdict="replace"}', 2);
});

test('a hook that does not answer in time: ON_ERROR=reject refuses with unavailable, ON_ERROR=allow lets the message through', async () => {
  const hook = await startHook();
  const strict = await chatServer(hook.url, { PUBLISH_HOOK_TIMEOUT_MS: '200' });
  const lenient = await chatServer(hook.url, { PUBLISH_HOOK_TIMEOUT_MS: '200', PUBLISH_HOOK_ON_ERROR: 'allow' });

  const ann = await connectSio(strict.url, { auth: { name: 'ann' } });
  expect(await ann.chat('[hang] one')).toEqual(UNAVAILABLE);
  const bob = await joinedRaw(strict.url, { format: 'json', name: 'bob' });
  bob.send('[hang] two');
  expect(await nextFrameOf(bob, 'error')).toEqual({ type: 'error', error: 'unavailable', reason: 'publish hook unavailable' });
  await metricReaches(strict.url, 'chat_publish_hook_failures_total{reason="timeout"}', 2);
  expect(await metric(strict.url, 'chat_publish_hook_requests_total{verdict="error"}')).toBe(2);

  const eve = await connectSio(lenient.url, { auth: { name: 'eve' } });
  expect(await eve.chat('[hang] three')).toMatchObject({ ok: true });
  expect(await eve.chats.next()).toMatchObject({ text: '[hang] three' });
  await metricReaches(lenient.url, 'chat_publish_hook_failures_total{reason="timeout"}', 1);
});

test('answers that are no verdict fail like a hook that is down: garbage, an unknown action, no reason, a replacement past MAX_MESSAGE_BYTES, a 500', async () => {
  // The hook's replacement is one byte past the server's limit.
  const hook = await startHook(SECRET, { HUGE_BYTES: '1001' });
  const server = await chatServer(hook.url, { MAX_MESSAGE_BYTES: '1000' });
  const ann = await connectSio(server.url, { auth: { name: 'ann' } });
  for (const text of ['[garbage]', '[unknown]', '[noreason]', '[huge]', '[500]']) {
    expect([text, await ann.chat(text)]).toEqual([text, UNAVAILABLE]);
  }
  await metricReaches(server.url, 'chat_publish_hook_failures_total{reason="invalid"}', 4);
  expect(await metric(server.url, 'chat_publish_hook_failures_total{reason="status"}')).toBe(1);
  // Nothing of it reached the room.
  ann.socket.emit('chat', 'after');
  expect(await ann.chats.next()).toMatchObject({ text: 'after' });
});

test('a hook that keeps failing is logged in one line, not one per message, without its query', async () => {
  const hook = await startHook();
  const lines: { msg: string; [field: string]: unknown }[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  const server = await startTestServer({ DATA_DIR: ':memory:', PUBLISH_HOOK_URL: `${hook.url}?key=s3cret`, WEBHOOK_SECRET: SECRET, LOG_LEVEL: 'info' }, { logger });
  const ann = await connectSio(server.url, { auth: { name: 'ann' } });
  for (const text of ['[500] one', '[500] two', '[500] three']) expect(await ann.chat(text)).toEqual(UNAVAILABLE);
  const failures = lines.filter((line) => line.msg.startsWith('publish hook failed'));
  expect(failures).toEqual([expect.objectContaining({ level: 40, msg: 'publish hook failed; message refused', reason: 'status', detail: 'answered 500', room: 'lobby', hook: hook.url })]);
  expect(JSON.stringify(lines)).not.toContain('s3cret');
  await metricReaches(server.url, 'chat_publish_hook_failures_total{reason="status"}', 3);
});

test('edits are asked about too, with the id they edit: a filter cannot be got round by editing', async () => {
  const hook = await startHook();
  const server = await chatServer(hook.url);
  const ann = await connectSio(server.url, { auth: { name: 'ann' } });
  const changes = changeQueues(ann.socket, 'ann');
  const bob = await joinedRaw(server.url, { format: 'json', name: 'bob' });

  const sent = (await ann.chat('harmless')) as { ok: true; id: string };
  await hook.answered.next();
  expect(await ann.socket.emitWithAck('edit', { id: sent.id, text: 'now a badword' })).toEqual({ ok: false, error: 'rejected', reason: BADWORD_REASON });
  expect((await hook.answered.next()).body).toEqual({ room: 'lobby', name: 'ann', text: 'now a badword', edit: sent.id });
  expect(await ann.socket.emitWithAck('edit', { id: sent.id, text: 'darn' })).toEqual({ ok: true, version: 1 });
  expect(await changes.edits.next()).toMatchObject({ id: sent.id, text: '****', version: 1 });
  expect(await nextFrameOf(bob, 'edit')).toMatchObject({ id: sent.id, text: '****' });

  bob.send('mine');
  const mine = await nextFrameOf(bob, 'chat');
  expect(await rawRequest(bob, { type: 'edit', id: mine.id, text: 'badword' })).toEqual(expect.objectContaining({ type: 'error', error: 'rejected', reason: BADWORD_REASON }));
});

test("a sender's messages keep their order when the hook answers them out of order", async () => {
  const hook = await startHook();
  const server = await chatServer(hook.url, { PUBLISH_HOOK_TIMEOUT_MS: '10000' });
  const { ann, bob } = await lobby(server.url);

  const first = ann.chat('[hold a] first');
  const second = ann.chat('second');
  expect((await hook.held.next()).key).toBe('a');
  // The second is answered while the first is still held...
  expect((await hook.answered.next()).body).toMatchObject({ text: 'second' });
  hook.release('a');
  // ...and still comes after it, to everyone.
  const acks = (await Promise.all([first, second])) as { ok: true; id: string }[];
  expect(acks.map((a) => a.ok)).toEqual([true, true]);
  expect((acks[0] as { id: string }).id < (acks[1] as { id: string }).id).toBe(true);
  expect((await ann.chats.take(2)).map((m) => m.text)).toEqual(['[hold a] first', 'second']);
  expect([(await nextFrameOf(bob, 'chat')).text, (await nextFrameOf(bob, 'chat')).text]).toEqual(['[hold a] first', 'second']);
});

test("a hook holding room alpha's messages does not delay room beta's", async () => {
  const hook = await startHook();
  const server = await chatServer(hook.url, { PUBLISH_HOOK_TIMEOUT_MS: '10000' });
  const alpha = await connectSio(server.url, { auth: { name: 'ann' }, room: 'alpha' });
  const beta = await connectSio(server.url, { auth: { name: 'ben' }, room: 'beta' });
  const watcher = await joinedRaw(server.url, { format: 'json', name: 'wat' }, 'beta');

  let alphaAnswered = false;
  const slow = alpha.chat('[hold x] slow').finally(() => (alphaAnswered = true));
  const after = alpha.chat('after');
  await hook.held.next();
  expect(await beta.chat('quick')).toMatchObject({ ok: true });
  expect(await nextFrameOf(watcher, 'chat')).toMatchObject({ text: 'quick' });
  expect(alphaAnswered).toBe(false);

  hook.release('x');
  expect([await slow, await after]).toEqual([expect.objectContaining({ ok: true }), expect.objectContaining({ ok: true })]);
  expect((await alpha.chats.take(2)).map((m) => m.text)).toEqual(['[hold x] slow', 'after']);
});

test('a room with 1000 messages waiting refuses the next at once; the rest go out in order', async () => {
  const hook = await startHook();
  const server = await chatServer(hook.url, { PUBLISH_HOOK_TIMEOUT_MS: '15000', RATE_LIMIT: '0' });
  const ann = await connectSio(server.url, { auth: { name: 'ann' } });

  const acks: Promise<ChatAck>[] = [ann.chat('[hold q] 0')];
  await hook.held.next();
  for (let i = 1; i <= 1000; i += 1) acks.push(ann.chat(String(i)));
  expect(await acks[1000]).toEqual({ ok: false, error: 'unavailable', reason: 'publish hook busy' });
  hook.release('q');
  const answered = await Promise.all(acks.slice(0, 1000));
  expect(answered.filter((a) => !a.ok)).toEqual([]);
  const texts = (await ann.chats.take(1000, 15_000)).map((m) => m.text);
  expect(texts).toEqual(['[hold q] 0', ...Array.from({ length: 999 }, (_, i) => String(i + 1))]);
  await metricReaches(server.url, 'chat_publish_hook_failures_total{reason="queue_full"}', 1);
}, 60_000);

test('shutdown ends the requests under way: with ON_ERROR=allow their messages are stored before the store closes', async () => {
  const hook = await startHook();
  const dataDir = freshDataDir();
  const server = await chatServer(hook.url, { DATA_DIR: dataDir, PUBLISH_HOOK_TIMEOUT_MS: '30000', PUBLISH_HOOK_ON_ERROR: 'allow' });
  const ann = await connectSio(server.url, { auth: { name: 'ann' } });
  ann.socket.emit('chat', '[hold z] said just before the end');
  await hook.held.next();
  const started = Date.now();
  await server.close();
  // Not the hook's 30 s deadline: closing its connections ended the request.
  expect(Date.now() - started).toBeLessThan(10_000);

  const again = await startTestServer({ DATA_DIR: dataDir });
  const reader = await connectSio(again.url, { auth: { name: 'reader' } });
  expect((await reader.histories.next()).map((m) => (m as ChatMessage).text)).toEqual(['[hold z] said just before the end']);
});

test("the HTTP API's posts come from the backend: they skip the hook", async () => {
  const hook = await startHook();
  const server = await chatServer(hook.url, { API_KEY: API_TEST_KEY });
  const ann = await connectSio(server.url, { auth: { name: 'ann' } });
  // The hook would reject this text: it is posted, so the hook was not asked.
  expect(await postMessage(server.url, 'lobby', { text: 'badword from the backend', name: 'ops' })).toMatchObject({ status: 201 });
  expect(await ann.chats.next()).toMatchObject({ text: 'badword from the backend' });
  expect(hook.answered.pending).toEqual([]);
});

test('the hook refuses a request that is not signed with its secret, so the server signs each one', async () => {
  const hook = await startHook();
  const unsigned = await fetch(hook.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ room: 'lobby', name: 'x', text: 'hi' }) });
  expect(unsigned.status).toBe(401);
  expect((await hook.invalid.next()).type).toBe('invalid');

  const wrongSecret = await startTestServer({ DATA_DIR: ':memory:', PUBLISH_HOOK_URL: hook.url, WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}` });
  const ann = await connectSio(wrongSecret.url, { auth: { name: 'ann' } });
  expect(await ann.chat('hi')).toEqual(UNAVAILABLE);
  expect((await hook.invalid.next()).type).toBe('invalid');
  await metricReaches(wrongSecret.url, 'chat_publish_hook_failures_total{reason="status"}', 1);

  const rightSecret = await chatServer(hook.url);
  const eve = await connectSio(rightSecret.url, { auth: { name: 'eve' } });
  expect(await eve.chat('hi')).toMatchObject({ ok: true });
});

test("with JWT the hook is told the sender's user, the token's sub", async () => {
  const hook = await startHook();
  const jwtSecret = 'a-secret-of-at-least-32-bytes-for-hs256!';
  const server = await chatServer(hook.url, { JWT_SECRET: jwtSecret });
  const token = await signToken({ alg: 'HS256', key: new TextEncoder().encode(jwtSecret) }, { sub: 'u-17', name: 'Ann' });
  const ann = await connectSio(server.url, { auth: { token }, room: 'alpha' });
  expect(await ann.chat('hi')).toMatchObject({ ok: true });
  expect((await hook.answered.next()).body).toEqual({ room: 'alpha', user: 'u-17', name: 'Ann', text: 'hi' });
});

test('the example hook in the README verifies the signature and filters words as it says', async () => {
  const readme = readFileSync(path.join(__dirname, '../README.md'), 'utf8');
  const start = readme.indexOf('\n## Webhooks and the publish hook');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const [, example, ...rest] = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  expect(rest).toEqual([]);
  expect(example).toContain('.listen(9000,');
  const port = await unusedPort();
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'publish-hook-example-')), 'hook.js');
  writeFileSync(file, (example as string).replace('.listen(9000,', `.listen(${port},`));
  const child = spawn(process.execPath, [file], {
    env: { PATH: process.env.PATH ?? '', WEBHOOK_SECRET: SECRET, NODE_PATH: path.join(__dirname, '../node_modules') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = once(child, 'exit');
  onCleanup('servers', () => {
    child.kill();
    return exited;
  });
  const url = `http://127.0.0.1:${port}/`;
  // Unsigned: refused, which also says it listens.
  await waitUntil(() => fetch(url, { method: 'POST', body: '{}' }).then((res) => res.status === 401, () => false), 'the example hook to listen');

  const server = await chatServer(url);
  const ann = await connectSio(server.url, { auth: { name: 'ann' } });
  expect(await ann.chat('buy SPAM now')).toEqual({ ok: false, error: 'rejected', reason: 'no spam here, please' });
  expect(await ann.chat('oh darn, what the heck')).toMatchObject({ ok: true });
  expect(await ann.chats.next()).toMatchObject({ text: 'oh ****, what the ****' });
  expect(await ann.chat('hello')).toMatchObject({ ok: true });
  expect(await ann.chats.next()).toMatchObject({ text: 'hello' });
});
