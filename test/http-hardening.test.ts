import WebSocket from 'ws';
import { createLogger } from '../server/support/logger';
import { Metrics } from '../server/support/metrics';
import { httpGet, upgradeStatus } from './support/http-upgrade';
import { pipelineUnread, POLLING_HANDSHAKE } from './support/pipeline';
import { connectRaw } from './support/raw-client';
import { JOIN, LEAVE } from './support/seed-strings';
import { waitUntil } from './support/wait';
import { connectSio } from './support/sio-client';
import { startTestServer } from './support/server';

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

const INFO = 30;

/** A test server whose info-level log lines the test can read. */
async function serverWithLogs(env: Record<string, string> = {}) {
  const lines: LogLine[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const server = await startTestServer(env, { logger });
  return { server, lines };
}

/** One sample of the Prometheus text, or 0 when absent. */
async function sample(url: string, name: string, labels: string, headers: Record<string, string> = {}): Promise<number> {
  const { body } = await httpGet(`${url}/metrics`, headers);
  const line = body.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/** /metrics is cached for a moment: waits until a counter reaches `value`. */
const rejectedReaches = (url: string, reason: string, value: number) =>
  waitUntil(async () => (await sample(url, 'chat_rejected_total', `{reason="${reason}"}`)) >= value, `chat_rejected_total{reason="${reason}"} to reach ${value}`);

describe('pipelined HTTP requests that are never read', () => {
  it.each(['/metrics', '/'])(
    'are cut off at a small bound on %s, while a raw sender at half the rate limit is echoed in order',
    async (path) => {
      const server = await startTestServer({ RATE_LIMIT: '20', RATE_BURST: '40' });
      const legit = await connectRaw(server.url, { name: 'legit' });
      expect(await legit.messages.next()).toBe(JOIN);

      const attackers = await Promise.all(Array.from({ length: 25 }, () => pipelineUnread(server.url, path, 2000)));
      const sent: string[] = [];
      for (let i = 0; i < 30; i += 1) {
        sent.push(`message ${i}`);
        legit.send(`message ${i}`);
        // Deliberately timed: ten a second, half of RATE_LIMIT, so flood control lets every one through.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await legit.messages.take(30, 15_000)).toEqual(sent);
      expect(legit.ws.readyState).toBe(WebSocket.OPEN);

      const answered = await Promise.all(attackers.map((a) => a.drain()));
      // Each connection was closed after at most the in-flight bound, far from its 2000.
      for (const count of answered) expect(count).toBeLessThanOrEqual(16);
    },
    30_000,
  );

  it('counts Engine.IO long-polling requests too', async () => {
    const server = await startTestServer();
    const attacker = await pipelineUnread(server.url, POLLING_HANDSHAKE, 200);
    expect(await attacker.drain()).toBeLessThanOrEqual(16);
    // A polite polling client still connects.
    const sio = await connectSio(server.url, { transports: ['polling'] });
    expect(sio.socket.connected).toBe(true);
  });

  it('leave an ordinary keep-alive client alone', async () => {
    const server = await startTestServer();
    for (let i = 0; i < 40; i += 1) expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe('/metrics rendering', () => {
  it('renders once for concurrent scrapes and reuses the body for a moment', async () => {
    const metrics = new Metrics({ raw: () => 0, 'socket.io': () => 0 });
    const render = jest.spyOn(metrics.registry, 'metrics');
    const bodies = await Promise.all(Array.from({ length: 10 }, () => metrics.render()));
    expect(new Set(bodies.map((b) => b.body)).size).toBe(1);
    await metrics.render();
    expect(render).toHaveBeenCalledTimes(1);
  });
});

describe('METRICS_TOKEN', () => {
  it('answers 401 without the bearer token, and the metrics with it', async () => {
    const server = await startTestServer({ METRICS_TOKEN: 's3cret' });
    const missing = await httpGet(`${server.url}/metrics`);
    expect(missing.status).toBe(401);
    expect(missing.body).toMatch(/Authorization: Bearer/);
    expect((await httpGet(`${server.url}/metrics`, { Authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await httpGet(`${server.url}/metrics`, { Authorization: 's3cret' })).status).toBe(401);
    const ok = await httpGet(`${server.url}/metrics`, { Authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('chat_connections');
    // The rest of the server is not behind the token.
    expect((await httpGet(`${server.url}/healthz`)).status).toBe(200);
  });

  it('leaves /metrics open when unset', async () => {
    const server = await startTestServer();
    expect((await httpGet(`${server.url}/metrics`)).status).toBe(200);
  });
});

describe('an oversize Socket.IO packet', () => {
  const env = { MAX_MESSAGE_BYTES: '1024' }; // packet limit 6*1024+4096 = 10240
  const oversize = 'x'.repeat(11000);

  it.each(['websocket', 'polling'] as const)('over %s disconnects its sender, is counted as size and logged', async (transport) => {
    const { server, lines } = await serverWithLogs(env);
    const observer = await connectSio(server.url, { auth: { name: 'observer' } });
    await observer.notices.next();
    const sender = await connectSio(server.url, { auth: { name: 'big' }, transports: [transport] });
    const disconnected = new Promise<string>((resolve) => sender.socket.once('disconnect', resolve));
    sender.socket.emit('chat', oversize);
    await disconnected;
    await rejectedReaches(server.url, 'size', 1);
    await waitUntil(
      () => lines.some((l) => l.level === INFO && l.transport === 'socket.io' && /too large/.test(l.msg)),
      'an info line about the oversize packet',
    );
    // The observer saw the leave and nothing else from the sender.
    expect(await observer.notices.next()).toMatchObject({ kind: 'join', name: 'big' });
    expect(await observer.notices.next()).toMatchObject({ kind: 'leave', name: 'big' });
    expect(observer.chats.pending).toEqual([]);
  });
});

describe('too many WebSocket fragments', () => {
  it('close the raw sender with 1008, counted as invalid and logged; others keep receiving', async () => {
    const { server, lines } = await serverWithLogs();
    const observer = await connectRaw(server.url, { name: 'observer' });
    await observer.messages.next();
    const offender = await connectRaw(server.url, { name: 'fragments' });
    await observer.messages.next();
    // One opening text frame and 16385 continuations, all empty and none final.
    for (let i = 0; i < 16386 && offender.ws.readyState === WebSocket.OPEN; i += 1) offender.ws.send('', { fin: false });
    // ws closes on its own, with no reason in the close frame (flood control's 1008 says 'Rate limit exceeded').
    expect(await offender.closed).toEqual({ code: 1008, reason: '' });
    await rejectedReaches(server.url, 'invalid', 1);
    expect(lines).toContainEqual(expect.objectContaining({ level: INFO, transport: 'raw', msg: 'too many message fragments' }));

    expect(await observer.messages.next()).toBe(LEAVE);
    const other = await connectRaw(server.url, { name: 'other' });
    await observer.messages.next();
    other.send('still here');
    expect(await observer.messages.next()).toBe('still here');
  });
});

describe('GET /socket without an upgrade', () => {
  it('answers 426 Upgrade Required, naming the protocol and how to connect', async () => {
    const server = await startTestServer();
    const res = await fetch(`${server.url}/socket`);
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    const text = await res.text();
    expect(text).toMatch(/WebSocket endpoint/);
    expect(text).toContain('ws://');
    expect(text.trim().split('\n')).toHaveLength(1);
  });
});

describe('ALLOWED_HOSTS', () => {
  const SIO_POLL = '/socket.io/?EIO=4&transport=polling';
  const evil = { Host: 'rebound.evil.example' };

  it('answers 421 to HTTP, raw upgrades and Socket.IO requests for a host it does not serve', async () => {
    const server = await startTestServer({ ALLOWED_HOSTS: 'chat.example.com, 127.0.0.1' });
    const page = await httpGet(`${server.url}/`, evil);
    expect(page.status).toBe(421);
    expect(page.body).toMatch(/not served here/);
    expect((await httpGet(`${server.url}/healthz`, evil)).status).toBe(421);
    expect(await upgradeStatus(server.url, '/socket', evil)).toBe(421);
    expect((await httpGet(`${server.url}${SIO_POLL}`, evil)).status).toBe(421);
    expect(await upgradeStatus(server.url, '/socket.io/?EIO=4&transport=websocket', evil)).toBe(421);
  });

  it('keeps real Socket.IO clients out when the name they use is not listed', async () => {
    // Clients cannot forge Host, so this server lists only other names than 127.0.0.1.
    const server = await startTestServer({ ALLOWED_HOSTS: 'chat.example.com' });
    await expect(connectSio(server.url, { transports: ['polling'] })).rejects.toThrow('xhr poll error: HTTP 421');
    await expect(connectSio(server.url, { transports: ['websocket'] })).rejects.toThrow('websocket error: HTTP 421');
    await expect(connectRaw(server.url)).rejects.toThrow('HTTP 421');
  });

  it('serves the listed hosts, whatever their case and port', async () => {
    const server = await startTestServer({ ALLOWED_HOSTS: 'chat.example.com, 127.0.0.1' });
    expect((await httpGet(`${server.url}/`, { Host: 'CHAT.Example.com:8443' })).status).toBe(200);
    expect((await httpGet(`${server.url}/`)).status).toBe(200);
    expect(await upgradeStatus(server.url, '/socket')).toBe(101);
    expect((await httpGet(`${server.url}${SIO_POLL}`)).status).toBe(200);
    const raw = await connectRaw(server.url);
    expect(await raw.messages.next()).toBe(JOIN);
  });

  it('honours a port when one is listed', async () => {
    const server = await startTestServer({ ALLOWED_HOSTS: `127.0.0.1:1` });
    expect((await httpGet(`${server.url}/`)).status).toBe(421);
    expect((await httpGet(`${server.url}/`, { Host: '127.0.0.1:1' })).status).toBe(200);
  });
});

describe('names', () => {
  it('announce a raw ?name=b%E2%80%8Bob (zero-width space) as bob', async () => {
    const server = await startTestServer();
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' });
    await observer.nextJson();
    await connectRaw(server.url, { name: 'b\u200bob' });
    expect(await observer.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'bob' });
  });
});
