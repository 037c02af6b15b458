import { httpGet } from './support/http-upgrade';
import { linked, startNodes } from './support/nodes';
import { connectRaw } from './support/raw-client';
import { describeWithRedis, startRedis } from './support/redis';
import { waitUntil } from './support/wait';
import { connectSio } from './support/sio-client';

// Two server processes, a Redis stopped and started again, reconnection back-off.
jest.setTimeout(90_000);

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
});
