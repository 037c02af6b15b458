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
    await alice.typings.expectNothing();
  });

  it('ignores a name the client tries to pass along with typing', async () => {
    const { alice, bob } = await room();
    // Not in the event map: a misbehaving client sending a payload anyway.
    (alice.socket.emit as (event: string, ...args: unknown[]) => void)('typing', { name: 'mallory' });
    expect(await bob.typings.next()).toEqual({ name: 'alice' });
  });

  it(`relays at most one typing event per ${TYPING_INTERVAL_MS / 2} ms from one client`, async () => {
    const { alice, bob } = await room();
    for (let i = 0; i < 20; i += 1) alice.socket.emit('typing');
    expect(await bob.typings.next()).toEqual({ name: 'alice' });
    await bob.typings.expectNothing(300);
  });

  it('sends raw clients nothing when someone types, in seed mode or JSON', async () => {
    const server = await startTestServer();
    const seed = await connectRaw(server.url);
    const json = await connectRaw(server.url, { format: 'json' });
    const alice = await connectSio(server.url, { auth: { name: 'alice' } });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    await seed.messages.take(4);
    await json.messages.take(3);

    alice.socket.emit('typing');
    expect(await bob.typings.next()).toEqual({ name: 'alice' });
    await seed.messages.expectNothing();
    await json.messages.expectNothing();
  });
});
