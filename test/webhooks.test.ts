/**
 * Webhooks on one node (issue #23): a real server process and a real receiver process
 * (tools/webhook-receiver.ts, which verifies every request's Standard Webhooks
 * signature), with real Socket.IO and raw clients and the HTTP API: every event type
 * with its data, signatures, batching and order per room, members counted across
 * connections, retries after 500s and timeouts, a receiver that is down, `kill -9` with
 * the receiver down, and WEBHOOK_MAX_AGE. On SQLite (the default store) and, where the
 * store makes a difference, in memory. Faulty receivers are in webhook-faults.test.ts.
 */
import type { ChatMessage } from '../server/protocol';
import { API_TEST_KEY, callApi } from './support/api';
import { freshDataDir } from './support/data-dir';
import { signingKey, signToken } from './support/jwt';
import { metricValue, metricWhere } from './support/metrics';
import { changeQueues, nextFrameOf } from './support/room-events';
import type { SioTestClient } from './support/sio-client';
import { sioSend } from './support/stored-chat';
import { waitUntil } from './support/wait';
import { createdIds, rawMember, rawPost, sioMember, webhookServer as serverFor } from './support/webhook-chat';
import { newWebhookSecret, startReceiver, type ReceivedEvent, type ReceiverMode, type WebhookReceiver } from './support/webhook-receiver';

// Each test starts a server process and a receiver process (each compiles with tsx), one
// test a second server after the first's lease runs out: more than Jest's default.
jest.setTimeout(60_000);

const SECRET = newWebhookSecret();

/** A server posting to `receiver`. */
const webhookServer = (receiver: WebhookReceiver, env: Record<string, string> = {}) => serverFor(receiver.url, SECRET, env);

/** What a receiver acts on in an event: everything but its id and time. */
const brief = (event: ReceivedEvent) => ({ type: event.type, room: event.room, data: event.data });

/** The receiver's accepted events, read in order a few at a time: each step of a test sees exactly what it caused. */
function inOrder(receiver: WebhookReceiver) {
  let taken = 0;
  return {
    async next(count: number, what: string): Promise<ReturnType<typeof brief>[]> {
      await receiver.waitFor(() => receiver.accepted().length >= taken + count, what);
      const events = receiver.accepted().slice(taken, taken + count);
      taken += count;
      return events.map(brief);
    },
  };
}

/** The number an SQLite or memory outbox gives an event: `evt_<epoch>_<seq>`. */
function seqOf(event: ReceivedEvent): number {
  const match = /^evt_[0-9a-f]+_(\d+)$/.exec(event.id);
  if (match === null) throw new Error(`event id ${event.id} is not evt_<epoch>_<seq>`);
  return Number(match[1]);
}

/** Waits until a Socket.IO client has heard `count` leave notices. */
async function leavesHeard(client: SioTestClient, count: number): Promise<void> {
  let heard = 0;
  while (heard < count) if ((await client.notices.next()).kind === 'leave') heard += 1;
}

const STORES: [string, () => string][] = [
  ['SQLite (DATA_DIR)', () => freshDataDir()],
  ['memory (DATA_DIR=:memory:)', () => ':memory:'],
];

describe.each(STORES)('on the %s store', (_store, dataDir) => {
  it('tells every event type with its data, in the order it happened', async () => {
    const receiver = await startReceiver({ secret: SECRET });
    const key = await signingKey('HS256');
    const server = await webhookServer(receiver, { DATA_DIR: dataDir(), API_KEY: API_TEST_KEY, ...key.env });
    const events = inOrder(receiver);
    const started = Date.now();

    const alice = await sioMember(server.url, 'alpha', { token: await signToken(key, { sub: 'u-alice', name: 'Alice' }) });
    expect(await events.next(2, 'alice joining')).toEqual([
      { type: 'room.occupied', room: 'alpha', data: {} },
      { type: 'member.joined', room: 'alpha', data: { name: 'Alice', user: 'u-alice' } },
    ]);
    const bob = await rawMember(server.url, 'alpha', { token: await signToken(key, { sub: 'u-bob', name: 'Bob' }) });
    expect(await events.next(1, 'bob joining')).toEqual([{ type: 'member.joined', room: 'alpha', data: { name: 'Bob', user: 'u-bob' } }]);

    // A message as clients got it, from either wire.
    const fromSio = await sioSend(alice, 'hello from Socket.IO');
    const sioMessage: ChatMessage = await alice.chats.next();
    expect(sioMessage).toMatchObject({ id: fromSio, name: 'Alice', text: 'hello from Socket.IO', user: 'u-alice' });
    expect(await events.next(1, 'the Socket.IO message')).toEqual([{ type: 'message.created', room: 'alpha', data: sioMessage }]);
    const fromRaw = await rawPost(bob, 'hello from raw');
    const rawMessage: ChatMessage = await alice.chats.next();
    expect(rawMessage).toMatchObject({ id: fromRaw, name: 'Bob', text: 'hello from raw', user: 'u-bob' });
    expect(await events.next(1, 'the raw message')).toEqual([{ type: 'message.created', room: 'alpha', data: rawMessage }]);

    // An edit tells the message as it is now; a delete tells its id only.
    const changes = changeQueues(alice.socket, 'alice');
    expect(await alice.socket.emitWithAck('edit', { id: fromSio, text: 'hello, edited' })).toEqual({ ok: true, version: 1 });
    const edit = await changes.edits.next();
    expect(await events.next(1, 'the edit')).toEqual([
      {
        type: 'message.edited',
        room: 'alpha',
        data: { id: fromSio, name: 'Alice', text: 'hello, edited', at: sioMessage.at, user: 'u-alice', version: 1, editedAt: edit.editedAt },
      },
    ]);
    expect(await alice.socket.emitWithAck('delete', { id: fromSio })).toEqual({ ok: true });
    expect(await events.next(1, 'the delete')).toEqual([{ type: 'message.deleted', room: 'alpha', data: { id: fromSio } }]);

    // Moderation through the API: the kick, then the kicked member leaving; a mute of one room; a ban everywhere (no room).
    const kicked = await callApi(server.url, 'POST', '/api/rooms/alpha/kick', { json: { user: 'u-bob', reason: 'off-topic' } });
    expect(kicked).toMatchObject({ status: 200, body: { connections: 1 } });
    expect((await bob.closed).code).toBe(4001);
    expect(await events.next(2, 'the kick')).toEqual([
      { type: 'moderation.kick', room: 'alpha', data: { user: 'u-bob', reason: 'off-topic', by: 'api' } },
      { type: 'member.left', room: 'alpha', data: { name: 'Bob', user: 'u-bob' } },
    ]);
    const mute = await callApi(server.url, 'POST', '/api/bans', { json: { kind: 'mute', user: 'u-carol', room: 'alpha', reason: 'shouting' } });
    expect(mute.status).toBe(201);
    expect(await events.next(1, 'the mute')).toEqual([{ type: 'moderation.mute', room: 'alpha', data: mute.body }]);
    const ban = await callApi(server.url, 'POST', '/api/bans', { json: { user: 'u-dave', reason: 'spam' } });
    expect(ban.status).toBe(201);
    expect(ban.body).toMatchObject({ kind: 'ban', user: 'u-dave', room: null, by: 'api' });
    expect(await events.next(1, 'the ban')).toEqual([{ type: 'moderation.ban', room: null, data: ban.body }]);

    alice.socket.disconnect();
    expect(await events.next(2, 'alice leaving')).toEqual([
      { type: 'member.left', room: 'alpha', data: { name: 'Alice', user: 'u-alice' } },
      { type: 'room.vacated', room: 'alpha', data: {} },
    ]);

    // Ids are the outbox's, one each, in the order of the events; times are when they happened.
    const all = receiver.accepted();
    expect(all).toHaveLength(13);
    const seqs = all.map(seqOf);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(all.map((event) => event.id)).size).toBe(all.length);
    for (const event of all) expect(event.at).toBeGreaterThanOrEqual(started - 1000);
    expect(receiver.invalid).toEqual([]);
  });

  it.each([
    ['a JWT sub', true],
    ['a name (no JWT)', false],
  ])('counts ten connections of one user in a room, both kinds, as one member known by %s', async (_who, withJwt) => {
    const receiver = await startReceiver({ secret: SECRET });
    const key = await signingKey('HS256');
    const server = await webhookServer(receiver, { DATA_DIR: dataDir(), ...(withJwt ? key.env : {}) });
    const credentials = async (sub: string, name: string): Promise<Record<string, string>> => (withJwt ? { token: await signToken(key, { sub, name }) } : { name });
    const memberOf = (sub: string, name: string) => (withJwt ? { name, user: sub } : { name });

    const watcher = await sioMember(server.url, 'tabs', await credentials('u-watch', 'watcher'));
    const tabs: (() => unknown)[] = [];
    for (let i = 0; i < 10; i += 1) {
      const who = await credentials('u-ten', 'ten');
      if (i % 2 === 0) {
        const tab = await sioMember(server.url, 'tabs', who);
        tabs.push(() => tab.socket.disconnect());
      } else {
        const tab = await rawMember(server.url, 'tabs', who);
        tabs.push(() => tab.close());
      }
    }
    for (const close of tabs.slice(0, 9)) close();
    await leavesHeard(watcher, 9);
    // Whatever the nine leaves made was recorded before this message.
    await sioSend(watcher, 'nine tabs closed');
    await receiver.waitFor(() => receiver.accepted().some((e) => e.data.text === 'nine tabs closed'), 'the message after nine tabs closed');
    expect(receiver.accepted().map((e) => e.type)).toEqual(['room.occupied', 'member.joined', 'member.joined', 'message.created']);

    (tabs[9] as () => unknown)();
    await leavesHeard(watcher, 1);
    watcher.socket.disconnect();
    await receiver.waitFor(() => receiver.accepted().some((e) => e.type === 'room.vacated'), 'room.vacated');
    expect(receiver.accepted().map(brief)).toEqual([
      { type: 'room.occupied', room: 'tabs', data: {} },
      { type: 'member.joined', room: 'tabs', data: memberOf('u-watch', 'watcher') },
      { type: 'member.joined', room: 'tabs', data: memberOf('u-ten', 'ten') },
      { type: 'message.created', room: 'tabs', data: expect.objectContaining({ text: 'nine tabs closed' }) },
      { type: 'member.left', room: 'tabs', data: memberOf('u-ten', 'ten') },
      { type: 'member.left', room: 'tabs', data: memberOf('u-watch', 'watcher') },
      { type: 'room.vacated', room: 'tabs', data: {} },
    ]);
    expect(receiver.invalid).toEqual([]);
  });
});

describe('signatures', () => {
  it('are verified by the receiver on every batch', async () => {
    const receiver = await startReceiver({ secret: SECRET });
    const server = await webhookServer(receiver);
    const client = await sioMember(server.url, 'signed', { name: 'ann' });
    for (let i = 0; i < 3; i += 1) await sioSend(client, `signed ${i}`);
    await receiver.waitForEvents(5);
    expect(receiver.invalid).toEqual([]);
    expect(receiver.batches.every((batch) => batch.status === 204 && /^msg_[A-Za-z0-9_-]+$/.test(batch.id))).toBe(true);
  });

  it('made with another secret are refused by the receiver, and the server keeps retrying', async () => {
    const receiver = await startReceiver({ secret: newWebhookSecret() });
    const server = await webhookServer(receiver);
    const client = await sioMember(server.url, 'forged', { name: 'ann' });
    await sioSend(client, 'never accepted');
    await receiver.waitFor(() => receiver.invalid.length >= 3, 'three requests failing verification');
    await metricWhere(server.url, 'chat_webhook_failures_total{reason="status"}', (n) => n >= 3, 'at least 3');
    expect(receiver.batches).toEqual([]);
    expect(receiver.invalid[0]).toMatch(/signature/i);
    expect(await metricValue(server.url, 'chat_webhook_events_delivered_total')).toBe(0);
  });
});

describe('what a receiver answers when it takes a batch', () => {
  // A bodiless answer, or a short one of declared length, is read to its end so that the
  // connection is kept; a body of unknown length costs the connection (it is not waited for).
  it.each<[string, 'kept' | 'not kept', ReceiverMode, number]>([
    ['204 No Content', 'kept', 'ok', 204],
    ['200 with an empty body (Content-Length: 0, as a bare res.end())', 'kept', 'ok-empty', 200],
    ['200 with a short body, its length declared', 'kept', 'ok-body', 200],
    ['200 with a short chunked body', 'not kept', 'ok-chunked', 200],
  ])('%s: each batch taken at once, one after another; the connection %s', async (_answer, connection, mode, status) => {
    const receiver = await startReceiver({ secret: SECRET, mode });
    const server = await webhookServer(receiver, { WEBHOOK_TIMEOUT_MS: '1000' });
    const client = await sioMember(server.url, 'answers', { name: 'ann' });
    const ids: string[] = [];
    // One batch a round.
    for (let round = 0; round < 3; round += 1) {
      const id = await sioSend(client, `round ${round}`);
      ids.push(id);
      await receiver.waitFor(() => createdIds(receiver, 'answers').includes(id), `the batch of round ${round}`, 10_000);
    }
    expect(createdIds(receiver, 'answers')).toEqual(ids);
    expect(receiver.batches.length).toBeGreaterThanOrEqual(3);
    expect(receiver.batches.map((batch) => batch.status)).toEqual(receiver.batches.map(() => status));
    const connections = new Set(receiver.batches.map((batch) => batch.connection)).size;
    if (connection === 'kept') expect(connections).toBe(1);
    else expect(connections).toBe(receiver.batches.length);
    expect(await metricValue(server.url, 'chat_webhook_deliveries_total{outcome="failed"}')).toBe(0);
  });
});

describe('batching and order', () => {
  it('delivers 250 messages sent at once in batches of at most 100, exactly the ones sent, each room in order', async () => {
    const receiver = await startReceiver({ secret: SECRET });
    const server = await webhookServer(receiver, { RATE_LIMIT: '0' });
    const red = await rawMember(server.url, 'red', { name: 'red' });
    const blue = await rawMember(server.url, 'blue', { name: 'blue' });
    const sent = { red: [] as string[], blue: [] as string[] };
    for (let i = 0; i < 125; i += 1) {
      for (const [room, client] of [['red', red], ['blue', blue]] as const) {
        client.send(`${room} ${i}`);
        sent[room].push(`${room} ${i}`);
      }
    }
    const acked = { red: [] as string[], blue: [] as string[] };
    for (let i = 0; i < 125; i += 1) {
      acked.red.push((await nextFrameOf(red, 'ack')).id as string);
      acked.blue.push((await nextFrameOf(blue, 'ack')).id as string);
    }

    const created = () => receiver.accepted().filter((event) => event.type === 'message.created');
    await receiver.waitFor(() => created().length >= 250, '250 message.created');
    for (const room of ['red', 'blue'] as const) {
      const mine = created().filter((event) => event.room === room);
      expect(mine.map((event) => event.data.text)).toEqual(sent[room]);
      expect(mine.map((event) => event.data.id)).toEqual(acked[room]);
    }
    const ids = receiver.accepted().map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Batched: none past 100 events, some full, the 250 in a handful of requests.
    const sizes = receiver.batches.map((batch) => batch.events.length);
    expect(Math.max(...sizes)).toBe(100);
    const carrying = receiver.batches.filter((batch) => batch.events.some((event) => event.type === 'message.created'));
    expect(carrying.length).toBeGreaterThanOrEqual(3);
    expect(carrying.length).toBeLessThanOrEqual(10);
    expect(receiver.invalid).toEqual([]);
  });
});

describe('retries', () => {
  it('sends a batch answered 500 again, with the same webhook-id, until it is taken; nothing is lost', async () => {
    const receiver = await startReceiver({ secret: SECRET, mode: 'fail' });
    const server = await webhookServer(receiver);
    const client = await sioMember(server.url, 'retry', { name: 'ann' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(await sioSend(client, `retried ${i}`));

    const failed = () => receiver.batches.filter((batch) => batch.status === 500);
    await receiver.waitFor(() => failed().length >= 3, 'three batches answered 500');
    // Retried as it was: the same events, so the same webhook-id.
    expect(new Set(failed().map((batch) => batch.id)).size).toBe(1);
    await metricWhere(server.url, 'chat_webhook_failures_total{reason="status"}', (n) => n >= 3, 'at least 3');

    await receiver.mode('ok');
    await receiver.waitFor(() => ids.every((id) => createdIds(receiver, 'retry').includes(id)), 'every message once the receiver answers 2xx');
    const firstTaken = receiver.batches.find((batch) => batch.status === 204);
    expect(firstTaken?.id).toBe(failed()[0]?.id);
    expect(firstTaken?.events).toEqual(failed()[0]?.events);
    expect(createdIds(receiver, 'retry')).toEqual(ids);
    const accepted = receiver.accepted();
    expect(accepted.map((event) => event.type)).toEqual(['room.occupied', 'member.joined', 'message.created', 'message.created', 'message.created']);
    await metricWhere(server.url, 'chat_webhook_events_delivered_total', (n) => n === accepted.length, `to be ${accepted.length}`);
    expect(await metricValue(server.url, 'chat_webhook_deliveries_total{outcome="ok"}')).toBeGreaterThanOrEqual(1);
    expect(await metricValue(server.url, 'chat_webhook_deliveries_total{outcome="failed"}')).toBeGreaterThanOrEqual(3);
    await metricWhere(server.url, 'chat_webhook_queue_events', (n) => n === 0, 'to be 0');
    expect(receiver.invalid).toEqual([]);
  });

  it('sends a batch again after no answer within WEBHOOK_TIMEOUT_MS, and delivers it once answered', async () => {
    const receiver = await startReceiver({ secret: SECRET, mode: 'hang' });
    const server = await webhookServer(receiver, { WEBHOOK_TIMEOUT_MS: '300' });
    const client = await sioMember(server.url, 'slowpoke', { name: 'ann' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(await sioSend(client, `timed out ${i}`));

    const unanswered = () => receiver.batches.filter((batch) => batch.status === 0);
    await receiver.waitFor(() => unanswered().length >= 2, 'two requests left unanswered');
    expect(new Set(unanswered().map((batch) => batch.id)).size).toBe(1);
    await metricWhere(server.url, 'chat_webhook_failures_total{reason="timeout"}', (n) => n >= 2, 'at least 2');

    await receiver.mode('ok');
    await receiver.waitFor(() => ids.every((id) => createdIds(receiver, 'slowpoke').includes(id)), 'every message once the receiver answers');
    expect(receiver.batches.find((batch) => batch.status === 204)?.id).toBe(unanswered()[0]?.id);
    expect(createdIds(receiver, 'slowpoke')).toEqual(ids);
    expect(receiver.invalid).toEqual([]);
  });
});

describe('a receiver that is down', () => {
  it('leaves chat and /readyz as they were, and gets every event once it is back', async () => {
    const receiver = await startReceiver({ secret: SECRET });
    await receiver.stop();
    const server = await webhookServer(receiver);
    const ann = await sioMember(server.url, 'down', { name: 'ann' });
    const bob = await rawMember(server.url, 'down', { name: 'bob' });

    const sent: string[] = [];
    // Each message reaches both, its sender included.
    for (let i = 0; i < 5; i += 1) {
      for (const [send, text] of [[() => sioSend(ann, `from ann ${i}`), `from ann ${i}`], [() => rawPost(bob, `from bob ${i}`), `from bob ${i}`]] as const) {
        const id = await send();
        sent.push(id);
        expect(await ann.chats.next()).toMatchObject({ id, text });
        expect(await nextFrameOf(bob, 'chat')).toMatchObject({ id, text });
      }
    }
    await metricWhere(server.url, 'chat_webhook_failures_total{reason="unreachable"}', (n) => n >= 2, 'at least 2');
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await metricWhere(server.url, 'chat_webhook_queue_events', (n) => n === 13, 'to be 13')).toBe(13);
    expect(await metricValue(server.url, 'chat_webhook_oldest_event_age_seconds')).toBeGreaterThan(0);

    await receiver.restart();
    await receiver.waitFor(() => createdIds(receiver, 'down').length >= sent.length, 'every message after the receiver came back');
    expect(createdIds(receiver, 'down')).toEqual(sent);
    expect(receiver.accepted().map((event) => event.type).slice(0, 3)).toEqual(['room.occupied', 'member.joined', 'member.joined']);
    await metricWhere(server.url, 'chat_webhook_queue_events', (n) => n === 0, 'to be 0');
    expect(receiver.invalid).toEqual([]);
  });

  it('gets every acknowledged event after the server was killed (-9) while it was down, and the dead server’s members leave', async () => {
    const receiver = await startReceiver({ secret: SECRET });
    await receiver.stop();
    const env = { DATA_DIR: freshDataDir(), RATE_LIMIT: '0' };
    const first = await webhookServer(receiver, env);
    const ann = await sioMember(first.url, 'killed', { name: 'ann' });
    const bob = await rawMember(first.url, 'killed', { name: 'bob' });
    const carl = await rawMember(first.url, 'elsewhere', { name: 'carl' });
    const acked = { killed: [] as string[], elsewhere: [] as string[] };
    for (let i = 0; i < 20; i += 1) {
      acked.killed.push(await sioSend(ann, `ann ${i}`));
      acked.killed.push(await rawPost(bob, `bob ${i}`));
      acked.elsewhere.push(await rawPost(carl, `carl ${i}`));
    }
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });

    await webhookServer(receiver, env);
    await receiver.restart();
    const vacated = (room: string) => receiver.accepted().some((event) => event.type === 'room.vacated' && event.room === room);
    // The dead server's lease runs out first (up to LEASE_MS, 15 s).
    await receiver.waitFor(() => vacated('killed') && vacated('elsewhere'), 'both rooms vacated after the restart', 45_000);

    const accepted = receiver.accepted();
    expect(createdIds(receiver, 'killed')).toEqual(acked.killed);
    expect(createdIds(receiver, 'elsewhere')).toEqual(acked.elsewhere);
    // Nothing was delivered before the kill, so nothing comes twice; every number the outbox gave is there.
    const seqs = accepted.map(seqOf);
    expect(seqs.length - new Set(seqs).size).toBe(0);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const members = (room: string) => accepted.filter((event) => event.room === room && event.type.startsWith('member.')).map(brief);
    expect(members('killed')).toEqual([
      { type: 'member.joined', room: 'killed', data: { name: 'ann' } },
      { type: 'member.joined', room: 'killed', data: { name: 'bob' } },
      { type: 'member.left', room: 'killed', data: { name: 'ann' } },
      { type: 'member.left', room: 'killed', data: { name: 'bob' } },
    ]);
    expect(members('elsewhere')).toEqual([
      { type: 'member.joined', room: 'elsewhere', data: { name: 'carl' } },
      { type: 'member.left', room: 'elsewhere', data: { name: 'carl' } },
    ]);
    // Each room's departures come after its messages.
    const positions = (type: string) => accepted.flatMap((event, i) => (event.type === type && event.room === 'killed' ? [i] : []));
    expect(Math.min(...positions('member.left'))).toBeGreaterThan(Math.max(...positions('message.created')));
    expect(receiver.invalid).toEqual([]);
  });

  it('drops, counts and logs the events older than WEBHOOK_MAX_AGE, and delivers the newer ones once it is back', async () => {
    const receiver = await startReceiver({ secret: SECRET });
    await receiver.stop();
    const server = await webhookServer(receiver, { WEBHOOK_MAX_AGE: '1' });
    const client = await rawMember(server.url, 'stale', { name: 'ann' });
    const old: string[] = [];
    for (let i = 0; i < 5; i += 1) old.push(await rawPost(client, `stale ${i}`));

    // room.occupied, member.joined and the five messages.
    await metricWhere(server.url, 'chat_webhook_events_dropped_total', (n) => n === 7, 'to be 7');
    const warnings = () =>
      server.lines
        .map((line) => JSON.parse(line) as { level: number; msg: string; dropped?: number; maxAgeS?: number })
        .filter((entry) => /older than WEBHOOK_MAX_AGE dropped/.test(entry.msg));
    await waitUntil(() => warnings().reduce((sum, entry) => sum + (entry.dropped ?? 0), 0) === 7, 'warnings naming the 7 dropped events');
    expect(warnings().every((entry) => entry.level === 40 && entry.maxAgeS === 1)).toBe(true);

    await receiver.restart();
    const fresh = await rawPost(client, 'fresh');
    await receiver.waitFor(() => createdIds(receiver, 'stale').includes(fresh), 'the message sent after the receiver came back');
    expect(receiver.accepted().map(brief)).toEqual([{ type: 'message.created', room: 'stale', data: expect.objectContaining({ id: fresh, text: 'fresh' }) }]);
    expect(receiver.invalid).toEqual([]);
  });
});
