import WebSocket from 'ws';
import { connectRaw, rawUrl } from './support/raw-client';
import { startTestServer } from './support/server';
import { JOIN, LEAVE } from './support/seed-strings';

describe('raw /socket, seed mode', () => {
  it('greets a newcomer with the seed join notice and tells everyone else too', async () => {
    const server = await startTestServer();
    const alice = await connectRaw(server.url);
    expect(await alice.messages.next()).toBe(JOIN);

    const bob = await connectRaw(server.url);
    expect(await bob.messages.next()).toBe(JOIN);
    expect(await alice.messages.next()).toBe(JOIN);
    // A message after the joins: a second join notice for bob would come before it.
    alice.send('marker');
    await bob.messages.expectNothingBefore('marker');
  });

  it('tells the others, not the leaver, with the seed leave notice', async () => {
    const server = await startTestServer();
    const alice = await connectRaw(server.url);
    const bob = await connectRaw(server.url);
    await alice.messages.take(2);
    await bob.messages.take(1);

    await bob.close();
    expect(await alice.messages.next()).toBe(LEAVE);
  });

  it('delivers every text frame verbatim to everyone, sender included', async () => {
    const server = await startTestServer();
    const alice = await connectRaw(server.url);
    const bob = await connectRaw(server.url);
    await alice.messages.take(2);
    await bob.messages.take(1);

    alice.send("Client: I'm sending data!");
    expect(await alice.messages.next()).toBe("Client: I'm sending data!");
    expect(await bob.messages.next()).toBe("Client: I'm sending data!");
  });

  it("keeps each sender's order across many messages", async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' }); // flood control would cut it
    const sender = await connectRaw(server.url);
    const reader = await connectRaw(server.url);
    await sender.messages.take(2);
    await reader.messages.take(1);

    const sent = Array.from({ length: 500 }, (_, i) => `message ${i}`);
    for (const text of sent) sender.send(text);
    expect(await reader.messages.take(sent.length)).toEqual(sent);
    expect(await sender.messages.take(sent.length)).toEqual(sent);
  });

  it('delivers unicode and a 10 KB message unchanged', async () => {
    const server = await startTestServer();
    const alice = await connectRaw(server.url);
    await alice.messages.next();

    const unicode = 'héllo wörld, 你好，世界 👋🏽 \u0000 tab\there';
    const big = 'x'.repeat(10 * 1024 - 3) + '末尾';
    alice.send(unicode);
    alice.send(big);
    expect(await alice.messages.next()).toBe(unicode);
    expect(await alice.messages.next()).toBe(big);
  });

  it('sends a newcomer nothing from before it arrived, even in the same instant', async () => {
    const server = await startTestServer();
    const alice = await connectRaw(server.url);
    await alice.messages.next();
    // Fired back to back so the message and the join can land in one event-loop turn.
    alice.send('before bob');
    const bob = await connectRaw(server.url);
    expect(await bob.messages.next()).toBe(JOIN);
    alice.send('after bob');
    await bob.messages.expectNothingBefore('after bob');
    expect(await alice.messages.take(3)).toEqual(['before bob', JOIN, 'after bob']);
  });
});

describe('raw /socket, options', () => {
  it('speaks JSON with ?format=json, with names, ids and online counts', async () => {
    const server = await startTestServer();
    const alice = await connectRaw(server.url, { format: 'json', name: 'alice' });
    const join = await alice.nextJson();
    expect(join).toEqual({ type: 'notice', kind: 'join', text: JOIN, name: 'alice', online: 1, at: expect.any(Number) });

    alice.send('hi');
    const chat = await alice.nextJson();
    expect(chat).toEqual({ type: 'chat', id: expect.any(String), text: 'hi', name: 'alice', at: expect.any(Number) });
    if (chat.type !== 'chat') throw new Error('expected a chat frame');
    expect(Math.abs(chat.at - Date.now())).toBeLessThan(5_000);

    const bob = await connectRaw(server.url, { format: 'json' });
    const bobJoin = await alice.nextJson();
    expect(bobJoin).toMatchObject({ type: 'notice', kind: 'join', online: 2, name: expect.stringMatching(/^guest-[0-9a-f]{4}$/) });
    await bob.close();
    expect(await alice.nextJson()).toMatchObject({ type: 'notice', kind: 'leave', text: LEAVE, online: 1 });
  });

  it('gives every message a unique id', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' }); // flood control would cut it
    const alice = await connectRaw(server.url, { format: 'json' });
    await alice.nextJson();
    for (let i = 0; i < 50; i += 1) alice.send(`m${i}`);
    const frames = await Promise.all(Array.from({ length: 50 }, () => alice.nextJson()));
    const ids = frames.map((f) => (f.type === 'chat' ? f.id : ''));
    expect(new Set(ids).size).toBe(50);
  });

  it('refuses an unknown ?format with HTTP 400', async () => {
    const server = await startTestServer();
    await expect(connectRaw(server.url, { format: 'xml' })).rejects.toThrow('HTTP 400');
  });
});

describe('raw /socket, bad input', () => {
  async function twoClients() {
    const server = await startTestServer({ MAX_MESSAGE_BYTES: '1024' });
    const offender = await connectRaw(server.url);
    const bystander = await connectRaw(server.url);
    await offender.messages.take(2);
    await bystander.messages.take(1);
    return { server, offender, bystander };
  }

  /** The bystander sees the offender leave, then keeps receiving. */
  async function bystanderUnaffected(bystander: Awaited<ReturnType<typeof connectRaw>>) {
    expect(await bystander.messages.next()).toBe(LEAVE);
    bystander.send('still here');
    expect(await bystander.messages.next()).toBe('still here');
  }

  it('closes a client that sends a binary frame with 1003 and broadcasts nothing', async () => {
    const { offender, bystander } = await twoClients();
    offender.ws.send(Buffer.from('binary!'), { binary: true });
    expect((await offender.closed).code).toBe(1003);
    await bystanderUnaffected(bystander);
  });

  it('closes a client whose frame exceeds MAX_MESSAGE_BYTES with 1009', async () => {
    const { offender, bystander } = await twoClients();
    offender.send('y'.repeat(1025));
    expect((await offender.closed).code).toBe(1009);
    await bystanderUnaffected(bystander);
  });

  it('accepts a frame of exactly MAX_MESSAGE_BYTES', async () => {
    const { offender, bystander } = await twoClients();
    offender.send('z'.repeat(1024));
    expect(await bystander.messages.next()).toBe('z'.repeat(1024));
  });

  it('closes a client that sends invalid UTF-8 with 1007', async () => {
    const { offender, bystander } = await twoClients();
    // A text frame (binary: false) whose bytes are not UTF-8; ws sends it as given.
    offender.ws.send(Buffer.from([0x68, 0x69, 0xff, 0xfe]), { binary: false });
    expect((await offender.closed).code).toBe(1007);
    await bystanderUnaffected(bystander);
  });

  it('survives a client that vanishes without a close frame', async () => {
    const { offender, bystander } = await twoClients();
    offender.ws.terminate();
    await bystanderUnaffected(bystander);
  });

  it('works from a URL with a query string and a trailing ? alike', async () => {
    const server = await startTestServer();
    const ws = new WebSocket(`${rawUrl(server.url)}?`);
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    expect(first).toBe(JOIN);
    ws.terminate();
  });
});
