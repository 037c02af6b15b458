/**
 * The connection caps against clients that do not play fair: many handshakes on one
 * TCP connection at once, and sessions that never prove they hold CHAT_TOKEN.
 *
 * Linux only as written: every test here connects from 127.0.0.2 or 127.0.0.3 to be
 * another address to the per-address caps, and only Linux binds those without setup.
 * Elsewhere they are skipped with a warning that says so (support/loopback.ts).
 */
import { httpGet, upgradeStatus } from './support/http-upgrade';
import { getRequest, pipeline, pipelineInGroups, POLLING_HANDSHAKE, postRequest, sessionOf } from './support/pipeline';
import WebSocket from 'ws';
import { onCleanup } from './support/cleanup';
import { EventQueue } from './support/event-queue';
import { describeWithLoopbackAliases } from './support/loopback';
import { connectRaw, rawUrl, type RawTestClient } from './support/raw-client';
import { connectSio } from './support/sio-client';
import { waitUntil } from './support/wait';
import { startTestServer } from './support/server';

const POLLING = POLLING_HANDSHAKE;

/** chat_connections{transport="socket.io"} as an operator reads it from /metrics. */
async function socketIoConnections(url: string): Promise<number> {
  const { body } = await httpGet(`${url}/metrics`);
  const match = /^chat_connections\{transport="socket\.io"\} (\d+)$/m.exec(body);
  return match ? Number(match[1]) : NaN;
}

/** A raw `/socket` client from `localAddress`; resolves once open, rejects with the refusal. */
function openRaw(url: string, localAddress: string, query: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(rawUrl(url, query), { localAddress });
  onCleanup('clients', () => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused with HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

describeWithLoopbackAliases('pipelined long-polling handshakes', () => {
  it('get no more sessions than the caps allow, and the slots come back when they close', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS: '10', MAX_CONNECTIONS_PER_IP: '5' });

    // Sixty handshakes from each of three addresses, pipelined as many at a time as one
    // connection may have unanswered.
    const sids: string[] = [];
    for (const address of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) {
      const responses = await pipelineInGroups(server.url, Array(60).fill(getRequest(POLLING)), address);
      const admitted = responses.map(sessionOf).filter((sid): sid is string => sid !== null);
      expect(admitted.length).toBeLessThanOrEqual(5);
      const refused = responses.filter((r) => sessionOf(r) === null);
      expect(refused.filter((r) => r.status !== 429 && r.status !== 503)).toEqual([]);
      sids.push(...admitted);
    }
    expect(sids.length).toBeGreaterThanOrEqual(1);
    expect(sids.length).toBeLessThanOrEqual(10);

    // Each session says goodbye (an Engine.IO close packet), as a client leaving does.
    await pipelineInGroups(server.url, sids.map((sid) => postRequest(`${POLLING}&sid=${sid}`, '1')));
    await waitUntil(async () => (await socketIoConnections(server.url)) === 0, 'the sessions to close');

    // Handshakes that pass the caps and then fail must give their slot back.
    const failing = [
      getRequest('/socket.io/?EIO=3&transport=polling'), // protocol no longer supported
      postRequest(POLLING, ''), // a handshake must be a GET
      getRequest('/socket.io/?EIO=4&transport=websocket'), // websocket without an upgrade
      getRequest('/socket.io/?EIO=4&transport=carrier-pigeon'),
    ];
    for (const request of [...failing, ...failing]) {
      expect((await pipeline(server.url, [request, request])).map((r) => r.status)).toEqual([400, 400]);
    }
    for (let i = 0; i < 5; i += 1) {
      expect(
        await upgradeStatus(server.url, '/socket.io/?EIO=4&transport=websocket', { 'Sec-WebSocket-Key': 'not a key' }),
      ).toBe(400);
    }

    // Not one slot leaked: ten clients fit again, five per address, and the eleventh does not.
    const clients: Promise<WebSocket>[] = [];
    for (let i = 0; i < 5; i += 1) {
      clients.push(openRaw(server.url, '127.0.0.1'));
      clients.push(openRaw(server.url, '127.0.0.2'));
    }
    await Promise.all(clients);
    await expect(openRaw(server.url, '127.0.0.3')).rejects.toThrow('HTTP 503');
  });
});

const TOKEN = 'x';

/**
 * A Socket.IO client with the wrong token that keeps its Engine.IO session open after
 * the `connect_error`, as a hostile client would (socket.io-client closes its own).
 * Resolves once the server has refused the token; rejects if the handshake is refused.
 */
async function wrongTokenSession(url: string, localAddress: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${POLLING.replace('polling', 'websocket')}`, { localAddress });
  onCleanup('clients', () => ws.terminate());
  const packets = new EventQueue<string>('wrong-token session');
  ws.on('message', (data) => packets.push(String(data)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused with HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  expect(await packets.next()).toMatch(/^0\{"sid"/);
  ws.send(`40${JSON.stringify({ token: 'wrong' })}`);
  expect(await packets.next()).toBe('44{"message":"unauthorized"}');
  return ws;
}

/** Waits for chat `text` among what a raw `format=json` client receives. */
async function rawReceives(client: RawTestClient, text: string): Promise<void> {
  for (;;) {
    const frame = await client.nextJson();
    if (frame.type === 'chat' && frame.text === text) return;
  }
}

describeWithLoopbackAliases('sessions that have not shown CHAT_TOKEN', () => {
  it('cannot lock token holders out, on either transport', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS: '20', CHAT_TOKEN: TOKEN });

    // From another address: four Socket.IO sessions with a wrong token, kept open, then
    // twenty-five plain long-polling handshakes, more than the server has room for.
    const wrongToken = await Promise.allSettled(Array.from({ length: 4 }, () => wrongTokenSession(server.url, '127.0.0.2')));
    const handshakes = await pipelineInGroups(server.url, Array(25).fill(getRequest(POLLING)), '127.0.0.2');

    // Token holders still get in, and chat.
    const raw = await connectRaw(server.url, { name: 'raw-holder', token: TOKEN, format: 'json' });
    const overWebSocket = await connectSio(server.url, { auth: { name: 'ws-holder', token: TOKEN } });
    const overPolling = await connectSio(server.url, { auth: { name: 'polling-holder', token: TOKEN }, transports: ['polling'] });
    expect(await overWebSocket.chat('still room for us')).toMatchObject({ ok: true });
    await rawReceives(raw, 'still room for us');
    expect(await overPolling.chats.next()).toMatchObject({ name: 'ws-holder', text: 'still room for us' });

    // The intruder held a quarter of the server at most.
    const intruderSessions =
      wrongToken.filter((r) => r.status === 'fulfilled').length + handshakes.filter((r) => sessionOf(r) !== null).length;
    expect(intruderSessions).toBeLessThanOrEqual(5);
    expect(handshakes.filter((r) => sessionOf(r) === null).every((r) => r.status === 503)).toBe(true);
  });

  it('are dropped oldest first to make room, and learn it at their next request', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS: '20', CHAT_TOKEN: TOKEN });
    const handshakes = await pipelineInGroups(server.url, Array(25).fill(getRequest(POLLING)), '127.0.0.2');
    const sids = handshakes.map(sessionOf).filter((sid): sid is string => sid !== null);
    expect(sids.length).toBeGreaterThanOrEqual(3);
    /** What each of those sessions hears when it sends a no-op packet. */
    const probe = async () =>
      (await pipeline(server.url, sids.map((sid) => postRequest(`${POLLING}&sid=${sid}`, '6')), '127.0.0.2')).map(
        (r) => (r.status === 200 ? r.body : `${r.status} ${r.body}`),
      );
    const GONE = '400 {"code":1,"message":"Session ID unknown"}';
    expect(await probe()).toEqual(Array(sids.length).fill('ok'));

    // Token holders fill the server; then each newcomer takes the place of the oldest.
    for (let i = sids.length; i < 20; i += 1) await connectRaw(server.url, { name: `raw-${i}`, token: TOKEN });
    await connectSio(server.url, { auth: { name: 'sio-1', token: TOKEN } });
    await connectRaw(server.url, { name: 'raw-late', token: TOKEN });
    expect(await probe()).toEqual([GONE, GONE, ...Array(sids.length - 2).fill('ok')]);
    for (let i = 2; i < sids.length; i += 1) {
      await connectSio(server.url, { auth: { name: `sio-${i}`, token: TOKEN }, transports: ['polling'] });
    }
    expect(await probe()).toEqual(Array(sids.length).fill(GONE));

    // Every place is a token holder's now: the server is full for everyone.
    await expect(connectRaw(server.url, { name: 'one-too-many', token: TOKEN })).rejects.toThrow('HTTP 503');
    expect((await httpGet(`${server.url}${POLLING}`)).status).toBe(503);
  });

  it('are closed after ten seconds', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS: '20', CHAT_TOKEN: TOKEN, HEARTBEAT_MS: '60000' });
    const [handshake] = await pipeline(server.url, [getRequest(POLLING)], '127.0.0.2');
    const sid = handshake === undefined ? null : sessionOf(handshake);
    expect(sid).not.toBeNull();
    const started = Date.now();
    // The next poll is held open until the server has something to say: the close packet.
    const [poll] = await pipeline(server.url, [getRequest(`${POLLING}&sid=${sid}`)], '127.0.0.2');
    expect(poll).toEqual({ status: 200, body: '1' });
    expect(Date.now() - started).toBeLessThan(12_000);
  }, 20_000);
});
