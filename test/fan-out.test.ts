import type { Notice, RawJsonFrame } from '../server/protocol';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { startTestServer } from './support/server';
import { JOIN, LEAVE } from './support/seed-strings';
import { connectSio, type SioTestClient } from './support/sio-client';
import { waitUntil } from './support/wait';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const total = (queues: { pending: readonly unknown[] }[]) => queues.reduce((sum, q) => sum + q.pending.length, 0);

/** Everything a raw JSON client has received so far, parsed. */
const jsonFrames = (client: RawTestClient) => client.messages.pending.map((text) => JSON.parse(text) as RawJsonFrame);

/** A newcomer's notices: its own join first, then one per later join, `online` counting up by one. */
function expectJoinsFrom(name: string, notices: readonly Pick<Notice, 'kind' | 'name' | 'online' | 'text'>[], everyone: number) {
  const first = notices[0];
  expect(first).toMatchObject({ kind: 'join', name, text: JOIN });
  const start = (first as Notice).online;
  expect(notices.map((n) => n.online)).toEqual(range(everyone - start + 1).map((i) => start + i));
  expect(notices.every((n) => n.kind === 'join' && n.text === JOIN)).toBe(true);
}

describe('join and leave storms', () => {
  it('gives each of many raw clients joining at once every later join notice, byte for byte', async () => {
    const server = await startTestServer();
    const n = 60;
    const clients = await Promise.all(range(n).map(() => connectRaw(server.url)));
    const queues = clients.map((c) => c.messages);
    await waitUntil(() => total(queues) === (n * (n + 1)) / 2, 'every join notice');
    // A marker sent after the last join: once every client has it, a join notice too many
    // would have arrived before it.
    clients[0]!.send('marker');
    await waitUntil(() => clients.every((c) => c.messages.pending.at(-1) === 'marker'), 'the marker at every client');
    const notices = clients.map((c) => c.messages.pending.slice(0, -1));

    // The k-th to join hears joins k..n: the counts are exactly 1..n, one client each.
    expect(notices.map((received) => received.length).sort((a, b) => a - b)).toEqual(range(n).map((i) => i + 1));
    expect(notices.every((received) => received.every((text) => text === JOIN))).toBe(true);
  });

  it('tells raw and Socket.IO clients joining at once about every later join, in order', async () => {
    const server = await startTestServer();
    const half = 25;
    const [raws, sios] = await Promise.all([
      Promise.all(range(half).map((i) => connectRaw(server.url, { format: 'json', name: `raw-${i}` }))),
      Promise.all(range(half).map((i) => connectSio(server.url, { auth: { name: `sio-${i}` } }))),
    ]);
    const everyone = 2 * half;
    const queues = [...raws.map((c) => c.messages), ...sios.map((c) => c.notices)];
    await waitUntil(() => total(queues) === (everyone * (everyone + 1)) / 2, 'every join notice');

    raws.forEach((client, i) => expectJoinsFrom(`raw-${i}`, jsonFrames(client) as Notice[], everyone));
    sios.forEach((client, i) => expectJoinsFrom(`sio-${i}`, client.notices.pending, everyone));
  });

  it('tells those who stay about every one of many clients leaving at once', async () => {
    const server = await startTestServer();
    const rawWatcher = await connectRaw(server.url);
    const sioWatcher = await connectSio(server.url);
    const leavers = await Promise.all(range(40).map(() => connectRaw(server.url)));
    await waitUntil(() => rawWatcher.messages.pending.length === 42 && sioWatcher.notices.pending.length === 41, 'joins');
    await rawWatcher.messages.take(42);
    await sioWatcher.notices.take(41);

    await Promise.all(leavers.map((client) => client.close()));
    expect(await rawWatcher.messages.take(40)).toEqual(range(40).map(() => LEAVE));
    const leaves = await sioWatcher.notices.take(40);
    expect(leaves.map((n) => [n.kind, n.text, n.online])).toEqual(range(40).map((i) => ['leave', LEAVE, 41 - i]));
    rawWatcher.send('marker');
    await rawWatcher.messages.expectNothingBefore('marker');
  });
});

describe('fan-out across turns and protocols', () => {
  /** Receivers of every kind, and the chat texts each has seen, in arrival order. */
  async function room(url: string) {
    const rawText = await connectRaw(url);
    const rawJson = await connectRaw(url, { format: 'json' });
    const sioWs = await connectSio(url);
    const sioPolling = await connectSio(url, { transports: ['polling'] });
    // Starts on long-polling and upgrades to WebSocket part-way, as browsers do by default.
    const sioUpgrading = await connectSio(url, { transports: ['polling', 'websocket'] });
    const sios: SioTestClient[] = [sioWs, sioPolling, sioUpgrading];
    const seen = {
      rawText: () => rawText.messages.pending.filter((t) => t !== JOIN),
      rawJson: () => jsonFrames(rawJson).flatMap((f) => (f.type === 'chat' ? [f.text] : [])),
      ...Object.fromEntries(sios.map((c, i) => [`sio${i}`, () => c.chats.pending.map((m) => m.text)])),
    } as Record<string, () => string[]>;
    return { rawText, sioWs, seen };
  }

  it('delivers messages sent over many turns from both protocols in one order to every kind of client', async () => {
    // 200 messages from each sender in a second or so: flood control off.
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const { rawText, sioWs, seen } = await room(server.url);
    const sent: string[] = [];
    for (let batch = 0; batch < 20; batch += 1) {
      for (let i = 0; i < 10; i += 1) {
        rawText.send(`raw ${batch}.${i}`);
        sent.push(`raw ${batch}.${i}`);
      }
      // Acked: the ack arrives after the broadcast left, so the batches cross turns.
      const acks = await Promise.all(range(10).map((i) => sioWs.chat(`sio ${batch}.${i}`)));
      expect(acks.every((ack) => ack.ok)).toBe(true);
      sent.push(...range(10).map((i) => `sio ${batch}.${i}`));
    }
    const views = Object.entries(seen);
    await waitUntil(() => views.every(([, view]) => view().length === sent.length), 'every message at every client');

    const order = (seen.rawText as () => string[])();
    for (const [name, view] of views) expect([name, view()]).toEqual([name, order]);
    // Each sender's own order is kept.
    expect(order.filter((t) => t.startsWith('raw '))).toEqual(sent.filter((t) => t.startsWith('raw ')));
    expect(order.filter((t) => t.startsWith('sio '))).toEqual(sent.filter((t) => t.startsWith('sio ')));
  });

  it('delivers a lone message to every kind of client', async () => {
    const server = await startTestServer();
    const { rawText, seen } = await room(server.url);
    rawText.send('just one');
    await waitUntil(() => Object.values(seen).every((view) => view().length === 1), 'the message at every client');
    for (const view of Object.values(seen)) expect(view()).toEqual(['just one']);
  });
});
