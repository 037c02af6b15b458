import { idParts, isMessageId } from '../server/store/message-id';
import { redisCommand } from '../tools/redis-process';
import type { ChatMessage } from '../server/protocol';
import { onCleanup } from './support/cleanup';
import { httpGet } from './support/http-upgrade';
import { metricValue, metricWhere } from './support/metrics';
import { listOfRaw, listOfSio, shown } from './support/member-list';
import { linked, startNodes } from './support/nodes';
import { connectRaw } from './support/raw-client';
import { describeWithRedis, startRedis } from './support/redis';
import { waitUntil, within } from './support/wait';
import { connectSio } from './support/sio-client';
import { sioSend } from './support/stored-chat';

// Two server processes, a Redis stopped and started again, reconnection back-off.
jest.setTimeout(90_000);

/**
 * Stops the redis-server `pid` (SIGSTOP): its connections stay open, and what is sent to
 * it waits. Answers what continues it. A test that fails meanwhile leaves it to be
 * killed, not stopped for ever.
 */
function pause(pid: number): () => void {
  const resume = () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  };
  process.kill(pid, 'SIGSTOP');
  onCleanup('clients', resume);
  return resume;
}

describeWithRedis('a Redis outage', () => {
  it('keeps each node serving its own clients while Redis is down, and links the nodes again when it returns', async () => {
    const redis = await startRedis();
    const [a, b] = await startNodes(2, { REDIS_URL: redis.url });
    const rawA = await connectRaw(a!.url, { name: 'rawA' });
    const sioA = await connectSio(a!.url, { auth: { name: 'sioA' } });
    const rawB = await connectRaw(b!.url, { name: 'rawB' });
    const sioB = await connectSio(b!.url, { auth: { name: 'sioB' } });
    const texts = (messages: readonly string[]) => messages.filter((m) => !m.startsWith('Server: '));
    for (const node of [a!, b!]) expect((await httpGet(`${node.url}/readyz`)).status).toBe(200);

    await redis.stop();
    for (const node of [a!, b!]) {
      await waitUntil(() => node.lines.some((line) => line.includes('redis unreachable')), `node ${node.url} notices`);
      expect(await httpGet(`${node.url}/readyz`)).toEqual({ status: 503, body: 'redis unreachable\n' });
    }

    rawA.send('A while Redis is down');
    expect((await sioA.chats.next()).text).toBe('A while Redis is down');
    await waitUntil(() => texts(rawA.messages.pending).includes('A while Redis is down'), 'raw client on A gets it');
    const ack = await sioB.chat('B while Redis is down');
    expect(ack).toEqual({ ok: true, id: expect.any(String) });
    expect((await sioB.chats.next()).text).toBe('B while Redis is down');
    await waitUntil(() => texts(rawB.messages.pending).includes('B while Redis is down'), 'raw client on B gets it');
    for (const node of [a!, b!]) expect(node.child.exitCode).toBeNull();

    await redis.start();
    for (const node of [a!, b!]) {
      await waitUntil(async () => (await httpGet(`${node.url}/readyz`)).status === 200, `node ${node.url} ready again`);
    }
    await linked([a!, b!]);
    rawA.send('A after the outage');
    await sioB.chat('B after the outage');
    await waitUntil(() => texts(rawB.messages.pending).includes('A after the outage'), 'raw client on B hears A again');
    await waitUntil(() => texts(rawA.messages.pending).includes('B after the outage'), 'raw client on A hears B again');
    expect((await sioB.chats.take(2)).map((m) => m.text).sort()).toEqual(['A after the outage', 'B after the outage']);
    expect((await sioA.chats.take(2)).map((m) => m.text).sort()).toEqual(['A after the outage', 'B after the outage']);
    // What was said during the outage stayed on its node, and did not arrive late.
    const after = ['A after the outage', 'B after the outage'];
    expect(texts(rawA.messages.pending)[0]).toBe('A while Redis is down');
    expect(texts(rawA.messages.pending).slice(1).sort()).toEqual(after);
    expect(texts(rawB.messages.pending)[0]).toBe('B while Redis is down');
    expect(texts(rawB.messages.pending).slice(1).sort()).toEqual(after);
  });

  it('tells the clients of each node that the other’s left when the outage outlasts the heartbeat window, and that they are back after it', async () => {
    const redis = await startRedis();
    const heartbeatMs = 2_000;
    const [a, b] = await startNodes(2, { REDIS_URL: redis.url, HEARTBEAT_MS: String(heartbeatMs) });
    const room = 'alpha';
    // The raw client joins first, so that its list (kept from notices alone) has everyone.
    const ann = await connectRaw(a!.url, { name: 'ann', format: 'json' }, {}, { room });
    await waitUntil(() => shown(listOfRaw(ann)).includes('ann'), 'ann’s own join');
    const amy = await connectSio(a!.url, { auth: { name: 'amy' }, room });
    await connectRaw(b!.url, { name: 'bob', format: 'json' }, {}, { room });
    await connectSio(b!.url, { auth: { name: 'cid' }, room });
    const lists = () => [shown(listOfRaw(ann)), shown(listOfSio(amy))];
    const everyone = ['amy', 'ann', 'bob', 'cid'];
    await waitUntil(() => lists().every((list) => list.join() === everyone.join()), 'both lists on A to have everyone');

    await redis.stop();
    for (const node of [a!, b!]) {
      await waitUntil(() => node.lines.some((line) => line.includes('redis unreachable')), `node ${node.url} notices the outage`);
    }
    // The lists, as they are when a wait gives up, say what went wrong.
    await waitUntil(() => lists().every((list) => list.join() === 'amy,ann'), 'the lists on A without B’s clients', 3 * heartbeatMs).catch(
      () => undefined,
    );
    expect(lists()).toEqual([
      ['amy', 'ann'],
      ['amy', 'ann'],
    ]);
    await redis.start();
    await waitUntil(() => lists().every((list) => list.join() === everyone.join()), 'the lists on A with B’s clients again', 20_000).catch(
      () => undefined,
    );
    expect(lists()).toEqual([everyone, everyone]);
  });

  // Fault simulated: Redis dies while commands the adapter sent without waiting for them
  // (the bus's PUBLISH) are still unanswered. Their failure must not end the process.
  it('keeps the node up when Redis dies with the bus’s commands unanswered', async () => {
    const redis = await startRedis();
    const [a] = await startNodes(1, { REDIS_URL: redis.url });
    // Redis holds every command from now on: the next join's PUBLISH stays in flight.
    expect(await redisCommand(redis.port, 'CLIENT PAUSE 30000 ALL')).toBe('+OK');
    const raw = await connectRaw(a!.url, { name: 'ann' });
    const sio = await connectSio(a!.url, { auth: { name: 'bob' } });
    await redis.stop();
    await waitUntil(() => a!.lines.some((line) => line.includes('redis unreachable')), 'the node to notice');
    expect(await within(sio.chat('still here'), 'the ack of a chat sent after Redis died')).toEqual({ ok: true, id: expect.any(String) });
    await waitUntil(() => raw.messages.pending.some((m) => m.includes('still here')), 'the raw client to get it');
    const late = await connectSio(a!.url, { auth: { name: 'cid' } });
    expect(await late.chat('and a newcomer too')).toEqual({ ok: true, id: expect.any(String) });
    expect(a!.child.exitCode).toBeNull();
  });

  // Found by hostile testing: both nodes stamped `<ms>-0`, `<ms>-1`... during an outage,
  // and a page that had seen an id dropped the other node's message with the same one.
  it('gives the two nodes’ messages different ids while Redis is down, even in the same milliseconds', async () => {
    const redis = await startRedis();
    const [a, b] = await startNodes(2, { REDIS_URL: redis.url, RATE_LIMIT: '0' });
    const nodes = [a!, a!, b!, b!];
    const senders = await Promise.all(nodes.map((node, i) => connectSio(node.url, { auth: { name: `sender-${i}` } })));
    await redis.stop();
    for (const node of [a!, b!]) {
      await waitUntil(() => node.lines.some((line) => line.includes('redis unreachable')), `node ${node.url} notices`);
    }

    const idsOn = { a: [] as string[], b: [] as string[] };
    const msOf = (id: string) => id.split('-')[0];
    const sharedMs = () => {
      const onB = new Set(idsOn.b.map(msOf));
      return new Set(idsOn.a.map(msOf).filter((ms) => onB.has(ms)));
    };
    // Bursts from both nodes at once, until they have stamped messages in the same
    // milliseconds often enough for a collision to show.
    for (let round = 0; round < 50 && sharedMs().size < 20; round += 1) {
      const acked = await within(
        Promise.all(senders.map((sender, i) => Promise.all(Array.from({ length: 50 }, (_, k) => sioSend(sender, `round ${round} sender ${i} #${k}`))))),
        `the acks of round ${round}`,
      );
      acked.forEach((ids, i) => (i < 2 ? idsOn.a : idsOn.b).push(...ids));
    }
    expect(sharedMs().size).toBeGreaterThanOrEqual(20);
    const onB = new Set(idsOn.b);
    expect(idsOn.a.filter((id) => onB.has(id))).toEqual([]);
    for (const ids of [idsOn.a, idsOn.b]) {
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) {
        expect(isMessageId(id)).toBe(true);
        expect(idParts(id)?.every(Number.isSafeInteger)).toBe(true);
      }
    }
  });

  it('holds messages while Redis is paused, and delivers them in order on both nodes, with their acks, once it answers', async () => {
    const redis = await startRedis();
    const [a, b] = await startNodes(2, { REDIS_URL: redis.url });
    const rawA = await connectRaw(a!.url, { name: 'rawA', format: 'json' });
    await rawA.nextJson(); // own join
    const sioB = await connectSio(b!.url, { auth: { name: 'sioB' } });
    await rawA.nextJson(); // sioB's join
    const acceptedOnA = await metricValue(a!.url, 'chat_messages_in_total{transport="raw"}');

    // Stopped, not gone: its connections stay open, and what the nodes send it waits.
    const resume = pause(redis.pid!);
    for (const text of ['p1', 'p2', 'p3']) rawA.send(text);
    await metricWhere(a!.url, 'chat_messages_in_total{transport="raw"}', (n) => n === acceptedOnA + 3, 'to count the three messages in');
    // Accepted and waiting for their ids: nobody has them yet.
    expect(rawA.messages.pending).toEqual([]);
    expect(sioB.chats.pending).toEqual([]);

    resume();
    const seen = [await rawA.nextJson(), await rawA.nextJson(), await rawA.nextJson()] as ChatMessage[];
    expect(seen.map((m) => m.text)).toEqual(['p1', 'p2', 'p3']);
    expect(await sioB.chats.take(3)).toEqual(seen.map(({ id, text, name, at }) => ({ id, text, name, at })));
    expect(await sioB.chat('after the pause')).toEqual({ ok: true, id: expect.any(String) });
    expect(await rawA.nextJson()).toMatchObject({ type: 'chat', text: 'after the pause' });
    for (const node of [a!, b!]) expect((await httpGet(`${node.url}/readyz`)).status).toBe(200);
  });

  it('keeps what a raw client sends before its room has loaded (Redis paused), hands it on in order once it joins, and closes a client that floods meanwhile', async () => {
    const redis = await startRedis();
    const [a] = await startNodes(1, { REDIS_URL: redis.url });
    const resume = pause(redis.pid!);
    // A room new to the node: its history comes from Redis, which does not answer yet.
    // A browser's `onopen = () => ws.send(...)` sends at once.
    const seed = await connectRaw(a!.url, { name: 'seed' }, {}, { room: 'early' });
    seed.send('first');
    seed.send('second');
    const acked = await connectRaw(a!.url, { name: 'acked', format: 'json', ack: '1' }, {}, { room: 'early' });
    acked.send('third');
    const flooder = await connectRaw(a!.url, { name: 'flooder' }, {}, { room: 'early-flood' });
    for (let i = 0; i < 17; i += 1) flooder.send(`flood ${i}`);
    expect((await flooder.closed).code).toBe(1008);

    resume();
    // The join notice first, then what it sent, as if it had come after.
    const seen = [await seed.messages.next(), await seed.messages.next(), await seed.messages.next()];
    expect(seen[0]).toMatch(/has entered/);
    expect(seen.slice(1)).toEqual(['first', 'second']);
    // Its frame is answered with its message's id, not `not_joined`.
    let ack: unknown;
    while (ack === undefined) {
      const frame = JSON.parse(await acked.messages.next()) as { type: string };
      if (frame.type === 'ack') ack = frame;
    }
    expect(ack).toEqual({ type: 'ack', id: expect.any(String) });
    await waitUntil(() => seed.messages.pending.includes('third'), 'the acked client’s message at the seed client');
  });
});
