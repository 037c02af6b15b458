/**
 * Receivers that misbehave (issue #23), each a real process (tools/webhook-receiver.ts)
 * or a port nothing listens on, against a real server process: one that answers 500,
 * never answers, answers its status line a byte a second, redirects, is unreachable, or
 * shows a certificate the server does not trust. Each ends as a retry, a warning in the
 * server's log and a failure counted under its reason, while the room goes on chatting
 * and the process stays up; once the receiver behaves, every event arrives. A 2xx answer
 * counts as delivered whatever its body does (a byte a second, 64 MiB), and the body is
 * not kept.
 */
import { readFileSync } from 'node:fs';
import { unusedPort } from '../tools/ports';
import { freshDataDir } from './support/data-dir';
import { metricValue, metricWhere } from './support/metrics';
import type { RawTestClient } from './support/raw-client';
import { nextFrameOf } from './support/room-events';
import type { SioTestClient } from './support/sio-client';
import type { SpawnedServer } from './support/spawn-server';
import { sioSend, stop } from './support/stored-chat';
import { describeWithCertificate } from './support/tls-cert';
import { waitUntil } from './support/wait';
import { createdIds, rawMember, rawPost, sioMember, webhookServer } from './support/webhook-chat';
import { newWebhookSecret, startReceiver, type ReceiverMode, type WebhookReceiver } from './support/webhook-receiver';

jest.setTimeout(60_000);

const SECRET = newWebhookSecret();
const ROOM = 'faulty';

interface LogEntry {
  level: number;
  msg: string;
  component?: string;
  reason?: string;
  status?: number;
  webhookId?: string;
  url?: string;
}

const logOf = (server: SpawnedServer): LogEntry[] => server.lines.map((line) => JSON.parse(line) as LogEntry);

/** Resolves with the server's warning that a delivery failed for `reason`, once it is logged. */
async function failureLogged(server: SpawnedServer, reason: string): Promise<LogEntry> {
  const find = () => logOf(server).find((entry) => entry.msg.startsWith('webhook delivery failed') && entry.reason === reason);
  await waitUntil(() => find() !== undefined, `a logged delivery failure for ${reason}`, 20_000);
  return find() as LogEntry;
}

/** Two members of the room, one of each kind. */
interface Pair {
  ann: SioTestClient;
  bob: RawTestClient;
}

async function pairIn(url: string): Promise<Pair> {
  return { ann: await sioMember(url, ROOM, { name: 'ann' }), bob: await rawMember(url, ROOM, { name: 'bob' }) };
}

/** One message from each, each reaching both (its sender included): the room is not stalled. Resolves with their ids. */
async function chatFlows(pair: Pair, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (const [send, text] of [
    [() => sioSend(pair.ann, `${label} from ann`), `${label} from ann`],
    [() => rawPost(pair.bob, `${label} from bob`), `${label} from bob`],
  ] as const) {
    const id = await send();
    expect(await pair.ann.chats.next()).toMatchObject({ id, text });
    expect(await nextFrameOf(pair.bob, 'chat')).toMatchObject({ id, text });
    ids.push(id);
  }
  return ids;
}

/** The process still runs and answers, ready. */
async function stillUp(server: SpawnedServer): Promise<void> {
  expect(server.child.exitCode).toBeNull();
  expect(server.child.signalCode).toBeNull();
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
}

/** Waits until the receiver has accepted the message.created of each of `ids`, then checks they came in order. */
async function delivered(receiver: WebhookReceiver, ids: readonly string[]): Promise<void> {
  await receiver.waitFor(() => ids.every((id) => createdIds(receiver, ROOM).includes(id)), `the ${ids.length} messages`);
  expect(createdIds(receiver, ROOM)).toEqual(ids);
}

/** A process's resident memory now, from /proc (Linux). */
function residentBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

describe('a receiver that fails, then recovers', () => {
  it.each<[string, string, ReceiverMode, Record<string, string>, RegExp]>([
    ['answers 500', 'status', 'fail', {}, /answered 500/],
    ['never answers', 'timeout', 'hang', { WEBHOOK_TIMEOUT_MS: '300' }, /no answer within 300 ms/],
    ['answers a byte a second, its status line too', 'timeout', 'trickle', { WEBHOOK_TIMEOUT_MS: '500' }, /no answer within 500 ms/],
    ['redirects', 'redirect', 'redirect', {}, /307 to http:\/\/127\.0\.0\.1:\d+\/elsewhere, not followed/],
  ])('%s: retried, logged, counted as %s; the room goes on; all delivered once it answers 2xx', async (_what, reason, mode, env, detail) => {
    const receiver = await startReceiver({ secret: SECRET, mode });
    const server = await webhookServer(receiver.url, SECRET, env);
    const pair = await pairIn(server.url);
    const ids = await chatFlows(pair, 'before');

    await metricWhere(server.url, `chat_webhook_failures_total{reason="${reason}"}`, (n) => n >= 2, 'at least 2');
    // The same batch, sent again as it was.
    const refused = receiver.batches.filter((batch) => batch.status < 200 || batch.status >= 300);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(new Set(refused.map((batch) => batch.id)).size).toBe(1);
    const logged = await failureLogged(server, reason);
    expect(logged).toMatchObject({ level: 40, component: 'webhooks', url: new URL(receiver.url).origin, webhookId: refused[0]?.id });
    expect(logged.msg).toMatch(detail);

    ids.push(...(await chatFlows(pair, 'while failing')));
    await stillUp(server);

    await receiver.mode('ok');
    await delivered(receiver, ids);
    expect(receiver.batches.find((batch) => batch.status === 204)?.id).toBe(refused[0]?.id);
    await stillUp(server);
    expect(receiver.invalid).toEqual([]);
    expect(`${server.lines.join('\n')}${server.stderr()}`).not.toContain(SECRET.slice('whsec_'.length));
  });

  it('is unreachable (nothing listens on its port): retried, logged, counted as unreachable; all delivered once it listens', async () => {
    const port = await unusedPort();
    const server = await webhookServer(`http://127.0.0.1:${port}/webhooks`, SECRET);
    const pair = await pairIn(server.url);
    const ids = await chatFlows(pair, 'before');

    await metricWhere(server.url, 'chat_webhook_failures_total{reason="unreachable"}', (n) => n >= 2, 'at least 2');
    const logged = await failureLogged(server, 'unreachable');
    expect(logged).toMatchObject({ level: 40, component: 'webhooks', url: `http://127.0.0.1:${port}` });
    expect(logged.msg).toMatch(/ECONNREFUSED/);
    ids.push(...(await chatFlows(pair, 'while unreachable')));
    await stillUp(server);

    const receiver = await startReceiver({ secret: SECRET, port });
    await delivered(receiver, ids);
    await stillUp(server);
  });
});

describeWithCertificate('a receiver whose TLS certificate the server does not trust', (cert) => {
  it('is retried, logged and counted as tls while the room goes on; trusted after a restart, it gets every event', async () => {
    const receiver = await startReceiver({ secret: SECRET, tls: { certFile: cert.certFile, keyFile: cert.keyFile } });
    const env = { DATA_DIR: freshDataDir() };
    const first = await webhookServer(receiver.url, SECRET, env);
    const pair = await pairIn(first.url);
    const ids = await chatFlows(pair, 'before');

    await metricWhere(first.url, 'chat_webhook_failures_total{reason="tls"}', (n) => n >= 2, 'at least 2');
    const logged = await failureLogged(first, 'tls');
    expect(logged).toMatchObject({ level: 40, component: 'webhooks', url: new URL(receiver.url).origin });
    expect(logged.msg).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    await receiver.waitFor(() => receiver.tlsErrors.length >= 1, 'a refused handshake');
    expect(receiver.batches).toEqual([]);
    ids.push(...(await chatFlows(pair, 'while untrusted')));
    await stillUp(first);

    // The events wait in the outbox through a restart, and go once the certificate is trusted.
    await stop(first);
    await webhookServer(receiver.url, SECRET, { ...env, NODE_EXTRA_CA_CERTS: cert.certFile });
    await delivered(receiver, ids);
    await receiver.waitFor(() => receiver.accepted().some((event) => event.type === 'room.vacated'), 'the room vacated at the stop');
    expect(receiver.accepted().map((event) => event.type)).toEqual([
      'room.occupied',
      'member.joined',
      'member.joined',
      ...ids.map(() => 'message.created'),
      'member.left',
      'member.left',
      'room.vacated',
    ]);
    expect(receiver.invalid).toEqual([]);
  });
});

describe('a receiver that answers 2xx and then misbehaves in its body', () => {
  it('sends its body a byte a second: delivered on the status, without waiting for the body', async () => {
    const receiver = await startReceiver({ secret: SECRET, mode: 'slow' });
    const server = await webhookServer(receiver.url, SECRET, { WEBHOOK_TIMEOUT_MS: '3000' });
    const pair = await pairIn(server.url);
    const ids: string[] = [];
    // Several rounds, each its own request: a body still coming holds none of them up.
    for (let round = 0; round < 3; round += 1) {
      ids.push(...(await chatFlows(pair, `round ${round}`)));
      await delivered(receiver, ids);
    }
    const accepted = receiver.accepted().length;
    await metricWhere(server.url, 'chat_webhook_events_delivered_total', (n) => n === accepted, `to be ${accepted}`);
    expect(await metricValue(server.url, 'chat_webhook_deliveries_total{outcome="failed"}')).toBe(0);
    await stillUp(server);
  });

  it('declares a 64 MiB body: delivered on the status, the body not read into memory', async () => {
    const hugeMb = 64;
    const receiver = await startReceiver({ secret: SECRET, mode: 'ok', hugeMb });
    const server = await webhookServer(receiver.url, SECRET);
    const pair = await pairIn(server.url);
    const ids = await chatFlows(pair, 'warm-up');
    await delivered(receiver, ids);
    const before = residentBytes(server.child.pid as number);

    await receiver.mode('huge');
    for (let round = 0; round < 4; round += 1) {
      ids.push(...(await chatFlows(pair, `round ${round}`)));
      await delivered(receiver, ids);
    }
    const grown = residentBytes(server.child.pid as number) - before;
    expect(grown).toBeLessThan((hugeMb / 2) * 1024 * 1024);
    const accepted = receiver.accepted().length;
    await metricWhere(server.url, 'chat_webhook_events_delivered_total', (n) => n === accepted, `to be ${accepted}`);
    expect(await metricValue(server.url, 'chat_webhook_deliveries_total{outcome="failed"}')).toBe(0);
    await stillUp(server);
  });
});
