/**
 * TRUST_PROXY: behind a trusted proxy each client is the address the proxy forwards in
 * X-Forwarded-For, for the per-address caps and for bans by `ip`, on both wires; from any
 * other peer the header is ignored. These tests play the proxy from 127.0.0.1, the
 * address every test client connects from, with the header set by the client itself.
 */
import { BANNED, ModerationClose } from '../server/protocol';
import { API_TEST_KEY, callApi } from './support/api';
import { itWithLoopbackAliases } from './support/loopback';
import { connectRaw } from './support/raw-client';
import { departures } from './support/room-events';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

const forwardedFor = (addresses: string) => ({ 'X-Forwarded-For': addresses });

/** A raw client that says it was forwarded for `addresses`. */
const rawFor = (url: string, addresses: string, localAddress?: string) =>
  connectRaw(url, {}, forwardedFor(addresses), localAddress === undefined ? {} : { localAddress });

describe('per-address caps behind a trusted proxy', () => {
  it('raw: MAX_CONNECTIONS_PER_IP counts each forwarded address on its own', async () => {
    const server = await startTestServer({ TRUST_PROXY: '127.0.0.1', MAX_CONNECTIONS_PER_IP: '1' });
    await rawFor(server.url, '6.6.6.6');
    await rawFor(server.url, '7.7.7.7');
    await expect(rawFor(server.url, '6.6.6.6')).rejects.toThrow('HTTP 429');
  });

  it.each([['websocket'], ['polling']] as const)('Socket.IO over %s: the same', async (transport) => {
    const server = await startTestServer({ TRUST_PROXY: '127.0.0.1', MAX_CONNECTIONS_PER_IP: '1' });
    const sioFor = (addresses: string) => connectSio(server.url, { transports: [transport], extraHeaders: forwardedFor(addresses) });
    await sioFor('6.6.6.6');
    await sioFor('7.7.7.7');
    await expect(sioFor('6.6.6.6')).rejects.toThrow('HTTP 429');
  });

  it('takes the rightmost address that is not a trusted proxy', async () => {
    const one = await startTestServer({ TRUST_PROXY: '127.0.0.1', MAX_CONNECTIONS_PER_IP: '1' });
    await rawFor(one.url, '6.6.6.6, 10.0.0.7');
    await rawFor(one.url, '6.6.6.6');
    await expect(rawFor(one.url, '10.0.0.7')).rejects.toThrow('HTTP 429');

    const two = await startTestServer({ TRUST_PROXY: '127.0.0.1,10.0.0.7', MAX_CONNECTIONS_PER_IP: '1' });
    await rawFor(two.url, '6.6.6.6, 10.0.0.7');
    await rawFor(two.url, '10.0.0.7');
    await expect(rawFor(two.url, '6.6.6.6')).rejects.toThrow('HTTP 429');
  });
});

describe('flood control behind a trusted proxy', () => {
  it('gives each forwarded address a burst of its own', async () => {
    const server = await startTestServer({ TRUST_PROXY: '127.0.0.1', RATE_LIMIT: '1', RATE_BURST: '5' });
    const burst = async (addresses: string) => {
      const client = await connectSio(server.url, { extraHeaders: forwardedFor(addresses) });
      return Promise.all(Array.from({ length: 5 }, (_, i) => client.chat(`${addresses} #${i}`)));
    };
    const first = await burst('6.6.6.6');
    const second = await burst('7.7.7.7');
    expect([...first, ...second].filter((ack) => !ack.ok)).toEqual([]);
    // The first address has spent its burst: another connection of it is refused.
    expect((await burst('6.6.6.6')).filter((ack) => !ack.ok)).not.toEqual([]);
  });
});

describe('a client cannot choose its address', () => {
  it('without TRUST_PROXY, X-Forwarded-For is ignored', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS_PER_IP: '1' });
    await rawFor(server.url, '6.6.6.6');
    await expect(rawFor(server.url, '7.7.7.7')).rejects.toThrow('HTTP 429');
    await expect(connectSio(server.url, { extraHeaders: forwardedFor('8.8.8.8') })).rejects.toThrow('HTTP 429');
  });

  itWithLoopbackAliases('from a peer that is not a trusted proxy, X-Forwarded-For is ignored', async () => {
    const server = await startTestServer({ TRUST_PROXY: '127.0.0.1', MAX_CONNECTIONS_PER_IP: '1' });
    await rawFor(server.url, '6.6.6.6', '127.0.0.2');
    await expect(rawFor(server.url, '7.7.7.7', '127.0.0.2')).rejects.toThrow('HTTP 429');
    await expect(connectSio(server.url, { extraHeaders: forwardedFor('8.8.8.8'), localAddress: '127.0.0.2' })).rejects.toThrow('HTTP 429');
    // The proxy's own clients are still told apart.
    await rawFor(server.url, '6.6.6.6');
  });
});

describe('a ban by ip behind a trusted proxy', () => {
  it('ends and refuses the forwarded address, on both wires, and no one else behind the proxy', async () => {
    const server = await startTestServer({ TRUST_PROXY: '127.0.0.1', API_KEY: API_TEST_KEY, DATA_DIR: ':memory:' });
    const raw = await connectRaw(server.url, { name: 'troll' }, forwardedFor('6.6.6.6'));
    const sio = await connectSio(server.url, { auth: { name: 'troll2' }, extraHeaders: forwardedFor('6.6.6.6') });
    const out = departures(sio);
    const bystander = await connectSio(server.url, { auth: { name: 'ann' }, extraHeaders: forwardedFor('7.7.7.7') });

    const answer = await callApi(server.url, 'POST', '/api/bans', { json: { ip: '6.6.6.6', room: null, reason: 'spam' } });
    expect(answer.status).toBe(201);

    expect(await raw.closed).toEqual({ code: ModerationClose.Banned, reason: BANNED });
    expect(await out.kicked.next()).toMatchObject({ reason: BANNED });
    await expect(rawFor(server.url, '6.6.6.6')).rejects.toThrow('HTTP 403');
    await expect(connectSio(server.url, { extraHeaders: forwardedFor('6.6.6.6') })).rejects.toThrow(BANNED);
    await expect(connectSio(server.url, { extraHeaders: forwardedFor('6.6.6.6'), transports: ['polling'] })).rejects.toThrow(BANNED);

    expect(await bystander.chat('still here')).toMatchObject({ ok: true });
    await rawFor(server.url, '7.7.7.7');
    await rawFor(server.url, '6.6.6.7');
    // The proxy itself is not banned either.
    await connectRaw(server.url);
  });
});
