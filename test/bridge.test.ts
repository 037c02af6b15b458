import { connectRaw } from './support/raw-client';
import { connectSio } from './support/sio-client';
import { startTestServer } from './support/server';
import { JOIN, LEAVE } from './support/seed-strings';

describe('one room for raw and Socket.IO clients', () => {
  it('relays a raw frame to Socket.IO clients, with the raw client name', async () => {
    const server = await startTestServer();
    const sio = await connectSio(server.url, { auth: { name: 'sio' } });
    const raw = await connectRaw(server.url, { name: 'rawbob' });
    await raw.messages.next();

    raw.send('hello from a console');
    expect(await sio.chats.next()).toEqual({ id: expect.any(String), text: 'hello from a console', name: 'rawbob', at: expect.any(Number) });
    expect(await raw.messages.next()).toBe('hello from a console');
  });

  it('relays a Socket.IO chat to raw clients as the bare text', async () => {
    const server = await startTestServer();
    const raw = await connectRaw(server.url);
    const json = await connectRaw(server.url, { format: 'json' });
    const sio = await connectSio(server.url, { auth: { name: 'alice' } });
    await raw.messages.take(3);
    await json.messages.take(2);

    const ack = await sio.chat('hi, consoles');
    if (!ack.ok) throw new Error(`chat refused: ${ack.error}`);
    expect(await raw.messages.next()).toBe('hi, consoles');
    expect(await json.nextJson()).toEqual({ type: 'chat', id: ack.id, text: 'hi, consoles', name: 'alice', at: expect.any(Number) });
  });

  it('announces joins and leaves of either kind to both kinds, counting both', async () => {
    const server = await startTestServer();
    const raw = await connectRaw(server.url, { name: 'raw' });
    expect(await raw.messages.next()).toBe(JOIN);

    const sio = await connectSio(server.url, { auth: { name: 'sio' } });
    expect(await raw.messages.next()).toBe(JOIN);
    expect(await sio.notices.next()).toMatchObject({ kind: 'join', name: 'sio', online: 2 });

    const rawJson = await connectRaw(server.url, { format: 'json', name: 'json' });
    expect(await rawJson.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'json', online: 3 });
    expect(await sio.notices.next()).toMatchObject({ kind: 'join', text: JOIN, name: 'json', online: 3 });
    expect(await raw.messages.next()).toBe(JOIN);

    sio.socket.disconnect();
    expect(await raw.messages.next()).toBe(LEAVE);
    expect(await rawJson.nextJson()).toMatchObject({ type: 'notice', kind: 'leave', text: LEAVE, name: 'sio', online: 2 });

    await raw.close();
    expect(await rawJson.nextJson()).toMatchObject({ type: 'notice', kind: 'leave', name: 'raw', online: 1 });
  });

  it('preserves the order of 200 messages across the bridge, both ways', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' }); // flood control would cut it
    const raw = await connectRaw(server.url, { name: 'raw' });
    const sio = await connectSio(server.url, { auth: { name: 'sio' } });
    await raw.messages.take(2);

    const fromRaw = Array.from({ length: 200 }, (_, i) => `raw #${i}`);
    for (const text of fromRaw) raw.send(text);
    expect((await sio.chats.take(200)).map((m) => m.text)).toEqual(fromRaw);
    expect(await raw.messages.take(200)).toEqual(fromRaw);

    const fromSio = Array.from({ length: 200 }, (_, i) => `sio #${i}`);
    for (const text of fromSio) sio.socket.emit('chat', text);
    expect(await raw.messages.take(200)).toEqual(fromSio);
    expect((await sio.chats.take(200)).map((m) => m.text)).toEqual(fromSio);
  });

  it('carries unicode and a 10 KB message unchanged in both directions', async () => {
    const server = await startTestServer();
    const raw = await connectRaw(server.url);
    const sio = await connectSio(server.url);
    await raw.messages.take(2);

    const texts = ['emoji 👩🏽‍💻 and 中文 and ﷽', `${'長'.repeat(3000)}-${'a'.repeat(1000)}`];
    expect(Buffer.byteLength(texts[1] as string)).toBeGreaterThan(10_000);
    for (const text of texts) {
      raw.send(text);
      expect((await sio.chats.next()).text).toBe(text);
      expect(await raw.messages.next()).toBe(text);
      await sio.chat(text);
      expect((await sio.chats.next()).text).toBe(text);
      expect(await raw.messages.next()).toBe(text);
    }
  });

  it('keeps raw messages in the history Socket.IO newcomers receive', async () => {
    const server = await startTestServer();
    const raw = await connectRaw(server.url, { name: 'console' });
    await raw.messages.next();
    raw.send('said before you came');
    expect(await raw.messages.next()).toBe('said before you came');

    const sio = await connectSio(server.url);
    expect(await sio.histories.next()).toEqual([
      { id: expect.any(String), text: 'said before you came', name: 'console', at: expect.any(Number) },
    ]);
  });
});
