/**
 * One rule for a message's text, whichever way it arrives and whichever way it is read
 * back: the same size limit for Socket.IO as for raw and the API, however JSON escapes
 * it, and the same characters live as in history.
 */
import { chatsOf } from './support/stored-chat';
import type { ChatMessage, RawJsonFrame } from '../server/protocol';
import { connectRaw } from './support/raw-client';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';
import { within } from './support/wait';

const API_KEY = 'text-rules-key';
const MAX_MESSAGE_BYTES = 65536;

describe('the size of a Socket.IO message', () => {
  it('is MAX_MESSAGE_BYTES of text however JSON escapes it, as for raw and the API', async () => {
    const server = await startTestServer({ MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' });
    const sender = await connectSio(server.url, { auth: { name: 'escaper' } });
    // Six bytes each once escaped (\u0001): the packet is six times the text.
    const largest = '\u0001'.repeat(MAX_MESSAGE_BYTES);
    expect(await within(sender.chat(largest), 'the ack of the largest message')).toMatchObject({ ok: true });
    expect(await sender.chat(`${largest}\u0001`)).toEqual({ ok: false, error: 'too_large' });
    expect(await sender.chat('still here')).toMatchObject({ ok: true });
    const seen: string[] = [];
    while (seen.length < 2) {
      const frame = await observer.nextJson();
      if (frame.type === 'chat') seen.push(frame.text);
    }
    expect(seen).toEqual([largest, 'still here']);
    expect(sender.socket.connected).toBe(true);
  });
});

describe('lone surrogates', () => {
  it('become U+FFFD as they arrive, so live clients, newcomers and the API read the same text and name', async () => {
    const server = await startTestServer({ API_KEY });
    const rawObserver = await connectRaw(server.url, { name: 'raw-observer', format: 'json' });
    const sioObserver = await connectSio(server.url, { auth: { name: 'sio-observer' } });
    // JSON carries a lone surrogate (`\ud800`); UTF-8, which the store keeps, cannot.
    const sender = await connectSio(server.url, { auth: { name: 'z\udc00' } });
    const ack = await sender.chat('a\ud800b');
    expect(ack.ok).toBe(true);
    const expected = { text: 'a\ufffdb', name: 'z\ufffd' };

    let live: RawJsonFrame;
    do live = await rawObserver.nextJson();
    while (live.type !== 'chat');
    expect({ text: live.text, name: live.name }).toEqual(expected);
    const sioLive = await sioObserver.chats.next();
    expect({ text: sioLive.text, name: sioLive.name }).toEqual(expected);

    const newcomer = await connectSio(server.url, { auth: { name: 'newcomer' } });
    const history = await newcomer.histories.next();
    expect(chatsOf(history).map(({ text, name }) => ({ text, name }))).toEqual([expected]);

    const res = await fetch(`${server.url}/api/rooms/lobby/messages`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    const { messages } = (await res.json()) as { messages: ChatMessage[] };
    expect(messages.map(({ text, name }) => ({ text, name }))).toEqual([expected]);
  });
});
