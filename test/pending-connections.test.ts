import { get as httpsGet } from 'node:https';
import { httpGet } from './support/http-upgrade';
import { openIdleSocket, statusLine, type IdleSocket } from './support/idle-socket';
import { itWithLoopbackAliases } from './support/loopback';
import { MULTI_PROCESS_START_MS } from './support/nodes';
import { connectRaw } from './support/raw-client';
import { JOIN } from './support/seed-strings';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';
import { spawnServer } from './support/spawn-server';
import { describeWithCertificate } from './support/tls-cert';
import { waitUntil, within } from './support/wait';

jest.setTimeout(60_000);

/** HANDSHAKE_TIMEOUT_MS in these tests, far below the default. */
const TIMEOUT_MS = 1_000;
/** How late after the deadline a connection may still be closed on a busy machine. */
const LATE_MS = 1_500;

/** GET over https trusting only `ca`: the body. */
function httpsBody(url: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** One sample of chat_rejected_total, or 0 when absent (over https: trusting `ca`). */
async function rejected(url: string, reason: string, ca?: Buffer): Promise<number> {
  const body = ca === undefined ? (await httpGet(`${url}/metrics`)).body : await httpsBody(`${url}/metrics`, ca);
  const line = body.split('\n').find((l) => l.startsWith(`chat_rejected_total{reason="${reason}"} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/** /metrics is cached for a moment: waits until a counter reaches `value`. */
const rejectedReaches = (url: string, reason: string, value: number, ca?: Buffer) =>
  waitUntil(async () => (await rejected(url, reason, ca)) >= value, `chat_rejected_total{reason="${reason}"} to reach ${value}`);

/** Waits for the server to close `idle`, and checks that it did so at its deadline. */
async function closedAtDeadline(idle: IdleSocket, what: string): Promise<string> {
  const { received, afterMs } = await within(idle.closed, what, TIMEOUT_MS + 10_000);
  expect(afterMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  expect(afterMs).toBeLessThan(TIMEOUT_MS + LATE_MS);
  return received;
}

/** Opens `count` idle connections one after the other, so that the server accepts them in this order. */
async function openInOrder(url: string, count: number, localAddress?: string, tlsCa?: Buffer): Promise<IdleSocket[]> {
  const sockets: IdleSocket[] = [];
  for (let i = 0; i < count; i += 1) {
    const idle = openIdleSocket(url, { ...(localAddress === undefined ? {} : { localAddress }), ...(tlsCa === undefined ? {} : { tlsCa }) });
    await within(idle.connected, `idle connection ${i} to connect`);
    sockets.push(idle);
  }
  return sockets;
}

/** A GET of /healthz written on an idle connection: it must be answered 200. */
async function answersHealthz(idle: IdleSocket): Promise<void> {
  idle.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  const { received } = await within(idle.closed, 'the answer to a GET of /healthz on a connection that waited');
  expect(statusLine(received)).toBe('HTTP/1.1 200 OK');
}

describe('a connection that sends no request head within HANDSHAKE_TIMEOUT_MS', () => {
  it('is answered 408 and closed when it sends nothing, and counted as handshake_timeout', async () => {
    const server = await startTestServer({ HANDSHAKE_TIMEOUT_MS: String(TIMEOUT_MS) });
    const idle = openIdleSocket(server.url);
    await within(idle.connected, 'the idle connection to connect');
    const received = await closedAtDeadline(idle, 'the server to close the idle connection');
    expect(statusLine(received)).toBe('HTTP/1.1 408 Request Timeout');
    expect(received).toMatch(/\r\nConnection: close\r\n/i);
    await rejectedReaches(server.url, 'handshake_timeout', 1);
    // A prompt client is not held to anything.
    expect((await httpGet(`${server.url}/healthz`)).status).toBe(200);
  });

  it('is answered 408 and closed when it sends its head a line at a time, however busy', async () => {
    const server = await startTestServer({ HANDSHAKE_TIMEOUT_MS: String(TIMEOUT_MS) });
    const slow = openIdleSocket(server.url);
    await within(slow.connected, 'the slow connection to connect');
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    // Deliberately timed: the peer keeps the connection busy, a header line every 100 ms,
    // and never ends the head.
    let line = 0;
    const drip = setInterval(() => slow.socket.write(`X-Drip-${(line += 1)}: .\r\n`), 100);
    try {
      const received = await closedAtDeadline(slow, 'the server to close the slow connection');
      expect(statusLine(received)).toBe('HTTP/1.1 408 Request Timeout');
    } finally {
      clearInterval(drip);
    }
  });

  it('leaves a client alone once its request head has arrived, however long the answer takes', async () => {
    const server = await startTestServer({ HANDSHAKE_TIMEOUT_MS: String(TIMEOUT_MS) });
    const raw = await connectRaw(server.url, { name: 'stays' });
    expect(await raw.messages.next()).toBe(JOIN);
    const other = await connectRaw(server.url, { name: 'later' });
    expect(await other.messages.next()).toBe(JOIN);
    // The first client's connection has outlived TIMEOUT_MS once an idle one opened at
    // the same time has been closed for it.
    const idle = openIdleSocket(server.url);
    await closedAtDeadline(idle, 'the server to close an idle connection');
    raw.send('still here');
    expect(await other.messages.next()).toBe('still here');
  });
});

describeWithCertificate('over TLS', (cert) => {
  const tlsEnv = { TLS_CERT: cert.certFile, TLS_KEY: cert.keyFile, HANDSHAKE_TIMEOUT_MS: String(TIMEOUT_MS) };

  it('a connection that never sends a ClientHello is closed, without an answer, and counted', async () => {
    const server = await startTestServer(tlsEnv);
    const idle = openIdleSocket(server.url);
    await within(idle.connected, 'the TCP connection to the TLS port');
    expect(await closedAtDeadline(idle, 'the server to close a connection that never began its TLS handshake')).toBe('');
    await rejectedReaches(server.url, 'handshake_timeout', 1, cert.cert);
  });

  it('a connection that stops halfway through its ClientHello is closed without an answer', async () => {
    const server = await startTestServer(tlsEnv);
    const idle = openIdleSocket(server.url);
    await within(idle.connected, 'the TCP connection to the TLS port');
    // The first bytes of a TLS 1.2+ handshake record (type 22, version 3.1, length 512), and no more.
    idle.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    expect(await closedAtDeadline(idle, 'the server to close a connection stuck in its TLS handshake')).toBe('');
  });

  it('a connection that completes its handshake and sends no request gets 408 over TLS', async () => {
    const server = await startTestServer(tlsEnv);
    const idle = openIdleSocket(server.url, { tlsCa: cert.cert });
    await within(idle.connected, 'the TLS handshake');
    const received = await closedAtDeadline(idle, 'the server to close an idle TLS connection');
    expect(statusLine(received)).toBe('HTTP/1.1 408 Request Timeout');
  });

  it('the oldest pending connection of an address makes way, before or after its handshake', async () => {
    const server = await startTestServer({ ...tlsEnv, HANDSHAKE_TIMEOUT_MS: '60000', MAX_PENDING_CONNECTIONS_PER_IP: '2' });
    const [first, second] = await openInOrder(server.url, 2);
    const [handshaken] = await openInOrder(server.url, 1, undefined, cert.cert);
    expect((await within(first!.closed, 'the oldest (no ClientHello) to make way')).received).toBe('');
    const [last] = await openInOrder(server.url, 1);
    expect((await within(second!.closed, 'the next oldest to make way')).received).toBe('');
    const [latest] = await openInOrder(server.url, 1);
    expect(statusLine((await within(handshaken!.closed, 'the handshaken one to make way')).received)).toBe('HTTP/1.1 503 Service Unavailable');
    expect(last!.isOpen() && latest!.isOpen()).toBe(true);
  });
});

describe('caps on connections that have not sent a request head', () => {
  it('MAX_PENDING_CONNECTIONS_PER_IP: the oldest of the address is answered 503 and closed; the rest are served', async () => {
    const server = await startTestServer({ MAX_PENDING_CONNECTIONS_PER_IP: '4', MAX_PENDING_CONNECTIONS: '100' });
    const sockets = await openInOrder(server.url, 6);
    for (const [i, evicted] of sockets.slice(0, 2).entries()) {
      const { received } = await within(evicted.closed, `idle connection ${i} to make way`);
      expect(statusLine(received)).toBe('HTTP/1.1 503 Service Unavailable');
    }
    // Each of the others was kept, and its request is served when it comes.
    for (const kept of sockets.slice(2)) await answersHealthz(kept);
    // (Each scrape is a new connection from the same address, pending for a moment.)
    await rejectedReaches(server.url, 'pending_limit', 2);
  });

  it('TRUST_PROXY: a trusted proxy is not bounded per address, only by MAX_PENDING_CONNECTIONS', async () => {
    const server = await startTestServer({ TRUST_PROXY: '127.0.0.1', MAX_PENDING_CONNECTIONS_PER_IP: '2', MAX_PENDING_CONNECTIONS: '4', HANDSHAKE_TIMEOUT_MS: '60000' });
    const sockets = await openInOrder(server.url, 5);
    // The fifth takes the place of the oldest of all; per address, two would have gone.
    expect(statusLine((await within(sockets[0]!.closed, 'the oldest of all to make way')).received)).toBe('HTTP/1.1 503 Service Unavailable');
    for (const kept of sockets.slice(1)) await answersHealthz(kept);
  });

  itWithLoopbackAliases('per address first, then MAX_PENDING_CONNECTIONS: the oldest of all', async () => {
    const server = await startTestServer({ MAX_PENDING_CONNECTIONS_PER_IP: '3', MAX_PENDING_CONNECTIONS: '5' });
    const [b1, b2] = await openInOrder(server.url, 2, '127.0.0.1');
    const [a1, a2, a3, a4] = await openInOrder(server.url, 4, '127.0.0.2');
    // 127.0.0.2's fourth: its own oldest makes way, not 127.0.0.1's older ones.
    expect(statusLine((await within(a1!.closed, "127.0.0.2's oldest to make way")).received)).toBe('HTTP/1.1 503 Service Unavailable');
    const [c1] = await openInOrder(server.url, 1, '127.0.0.3');
    // Six pending from three addresses: the oldest of all makes way.
    expect(statusLine((await within(b1!.closed, 'the oldest of all to make way')).received)).toBe('HTTP/1.1 503 Service Unavailable');
    for (const kept of [b2, a2, a3, a4, c1]) await answersHealthz(kept!);
  });
});

describe('a server process at its open-file limit', () => {
  // More idle connections from one address than the process may have files open: the
  // limit that made /healthz and new clients fail, with the default caps.
  const FILE_LIMIT = 1024;
  const IDLE = 1100;
  const DEFAULT_PER_IP = 256;

  it.each([[1], [2]])('WORKERS=%i: still answers /healthz and admits raw and Socket.IO clients', async (workers) => {
    const server = await spawnServer({ WORKERS: String(workers) }, MULTI_PROCESS_START_MS, { fileLimit: FILE_LIMIT });
    const idle = Array.from({ length: IDLE }, () => openIdleSocket(server.url));
    await within(
      Promise.all(idle.map((socket) => socket.connected.catch(() => undefined))),
      `${IDLE} idle connections to be established`,
    );
    const health = await within(httpGet(`${server.url}/healthz`), 'an answer to GET /healthz');
    expect(health.status).toBe(200);
    const raw = await within(connectRaw(server.url, { name: 'raw' }), 'a raw client to connect');
    expect(await raw.messages.next()).toBe(JOIN);
    const sio = await within(connectSio(server.url, { auth: { name: 'sio' } }), 'a Socket.IO client to connect');
    expect(sio.socket.connected).toBe(true);
    expect(await raw.messages.next()).toBe(JOIN);
    // The idle ones were churned, not held: at most the default cap of one address stays open.
    await waitUntil(() => idle.filter((socket) => socket.isOpen()).length <= DEFAULT_PER_IP, `at most ${DEFAULT_PER_IP} idle connections open`);
  });
});
