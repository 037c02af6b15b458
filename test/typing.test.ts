import { TYPING_INTERVAL_MS } from '../server/protocol';
import { connectRaw } from './support/raw-client';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

describe('typing indicator (Socket.IO)', () => {
  async function room() {
    const server = await startTestServer();
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    // Both have seen both joins, so what comes next is what the test caused.
    await alice.notices.take(2);
    await bob.notices.take(1);
    return { server, alice, bob };
  }

  it("tells the others who is typing, by the name the server gave the typist, and not the typist", async () => {
    const { alice, bob } = await room();
    alice.socket.emit('typing');
    expect(await bob.typings.next()).toEqual({ name: 'alice' });
    // Bob types after her: her own typing, had it come back to her, would come first.
    bob.socket.emit('typing');
    await alice.typings.expectNothingBefore({ name: 'bob' });
  });

  it('ignores a name the client tries to pass along with typing', async () => {
    const { alice, bob } = await room();
    // Not in the event map: a misbehaving client sending a payload anyway.
    (alice.socket.emit as (event: string, ...args: unknown[]) => void)('typing', { name: 'mallory' });
    expect(await bob.typings.next()).toEqual({ name: 'alice' });
  });

  it(`relays at most one typing event per ${TYPING_INTERVAL_MS / 2} ms from one client`, async () => {
    const { server, alice, bob } = await room();
    const carol = await connectSio(server.url, { auth: { name: 'carol' } });
    // Time is the subject here: 20 typing events back to back, far less than
    // TYPING_INTERVAL_MS / 2 apart, of which the server relays only the first.
    for (let i = 0; i < 20; i += 1) alice.socket.emit('typing');
    expect(await bob.typings.next()).toEqual({ name: 'alice' });
    // Acked: the server has handled all 20 (one connection's packets are handled in
    // order); carol's typing, relayed after that, marks that any relayed one is at bob.
    expect(await alice.chat('done typing')).toMatchObject({ ok: true });
    carol.socket.emit('typing');
    await bob.typings.expectNothingBefore({ name: 'carol' });
  });

  it('sends raw clients nothing when someone types, in seed mode or JSON', async () => {
    const server = await startTestServer();
    const seed = await connectRaw(server.url);
    const json = await connectRaw(server.url, { format: 'json' });
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    await seed.messages.take(4);
    await json.messages.take(3);
    // As in room(): bob has his own join, so nothing is being written to him when the
    // typing comes (a volatile event finding his transport busy would be dropped).
    await alice.notices.take(2);
    await bob.notices.take(1);

    alice.socket.emit('typing');
    expect(await bob.typings.next()).toEqual({ name: 'alice' });
    // Her message comes after her typing on the same connection: raw clients get it first.
    await alice.chat('marker');
    await seed.messages.expectNothingBefore('marker');
    await json.messages.expectNothingBefore((frame) => (JSON.parse(frame) as { text?: string }).text === 'marker', 'the marker chat');
  });
});
