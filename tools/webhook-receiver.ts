/**
 * A webhook receiver in a process of its own, for watching a server's events and for the
 * tests, soak and benchmark: `npm run webhooks:receive -- --port 9000` (WEBHOOK_SECRET
 * from the environment, as the server's).
 *
 * It verifies every request's Standard Webhooks signature with `standardwebhooks`, then
 * prints one JSON line per request on stdout:
 *   {"type":"listening","port":N}                      once, when it listens
 *   {"type":"batch","id","events":[...],"status":200,"connection":N}
 *                                                       a verified batch, what it answered (0: no answer a
 *                                                       client can wait for: hang, trickle), and which of
 *                                                       the connections made to it (1, 2, ...) carried it
 *   {"type":"invalid","reason"}                         a request that failed verification (answered 401)
 *   {"type":"tls-error","reason"}                       a TLS handshake that failed (https only)
 *   {"type":"mode","mode","failRate"}                   a line on stdin changed what it answers
 *
 * What it answers can be changed while it runs, by a line on stdin:
 *   ok (204) | ok-empty (200, Content-Length: 0) | ok-body (200, a short JSON body, its
 *   length declared) | ok-chunked (the same body, chunked) |
 *   fail (500) | hang (never answers) | slow (200 at once, then a body of a byte a
 *   second) | trickle (the whole answer, its status line too, a byte a second) |
 *   redirect (307 to itself) | huge (200 with a body of --huge-mb MiB) | fail-rate <0..1>
 * `--fail-rate 0.2` answers 500 to a fifth of the batches, at random (a batch answered
 * 500 is printed too: the server must send it again). `--tls-cert` and `--tls-key` (PEM
 * files) make it an https receiver.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';

type Mode = 'ok' | 'ok-empty' | 'ok-body' | 'ok-chunked' | 'fail' | 'hang' | 'slow' | 'trickle' | 'redirect' | 'huge';
const MODES: readonly Mode[] = ['ok', 'ok-empty', 'ok-body', 'ok-chunked', 'fail', 'hang', 'slow', 'trickle', 'redirect', 'huge'];

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    mode: { type: 'string', default: 'ok' },
    'fail-rate': { type: 'string', default: '0' },
    'huge-mb': { type: 'string', default: '1024' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
});

const secret = process.env.WEBHOOK_SECRET ?? '';
if (secret === '') {
  console.error('webhook-receiver: set WEBHOOK_SECRET (whsec_...), the same as the server\'s');
  process.exit(2);
}
const webhook = new Webhook(secret);
let mode: Mode = MODES.includes(args.mode as Mode) ? (args.mode as Mode) : 'ok';
let failRate = Number(args['fail-rate']);
const hugeBytes = Number(args['huge-mb']) * 1024 * 1024;
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

function answer(res: http.ServerResponse, port: number): number {
  if (mode === 'hang') return 0;
  if (mode === 'fail' || Math.random() < failRate) {
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"failing on purpose"}');
    return 500;
  }
  if (mode === 'redirect') {
    res.writeHead(307, { location: `${scheme}://127.0.0.1:${port}/elsewhere` }).end();
    return 307;
  }
  if (mode === 'slow') {
    res.writeHead(200, { 'content-type': 'text/plain' }).flushHeaders();
    const timer = setInterval(() => res.write('.'), 1000);
    res.on('close', () => clearInterval(timer));
    return 200;
  }
  if (mode === 'trickle') {
    // Past Node's HTTP layer: the bytes of the answer go out on the socket one at a time.
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    const socket = res.socket;
    let sent = 0;
    const timer = setInterval(() => {
      if (socket === null || socket.destroyed || sent === bytes.length) return void clearInterval(timer);
      socket.write(bytes.subarray(sent, sent + 1));
      sent += 1;
    }, 1000);
    socket?.on('close', () => clearInterval(timer));
    return 0;
  }
  if (mode === 'huge') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(hugeBytes) });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < hugeBytes) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => undefined);
    pump();
    return 200;
  }
  if (mode === 'ok-empty') {
    // What a handler's bare `res.end()` answers: 200 and `Content-Length: 0`.
    res.statusCode = 200;
    res.end();
    return 200;
  }
  if (mode === 'ok-body' || mode === 'ok-chunked') {
    const body = '{"received":true}';
    const length = mode === 'ok-body' ? { 'content-length': String(body.length) } : {};
    res.writeHead(200, { 'content-type': 'application/json', ...length }).end(body);
    return 200;
  }
  res.writeHead(204).end();
  return 204;
}

if ((args['tls-cert'] === undefined) !== (args['tls-key'] === undefined)) {
  console.error('webhook-receiver: --tls-cert and --tls-key go together');
  process.exit(2);
}
const tls = args['tls-cert'] !== undefined && args['tls-key'] !== undefined ? { cert: readFileSync(args['tls-cert']), key: readFileSync(args['tls-key']) } : null;
const scheme = tls === null ? 'http' : 'https';

/** Each connection's number, in the order they came: whether the server keeps its connection shows in the batches. */
const connections = new WeakMap<object, number>();
let connectionCount = 0;
const numberConnection = (socket: object) => void connections.set(socket, ++connectionCount);

const onRequest: http.RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let payload: { events?: unknown[] };
    try {
      payload = webhook.verify(body, req.headers as Record<string, string>) as { events?: unknown[] };
    } catch (err) {
      print({ type: 'invalid', reason: (err as Error).message });
      res.writeHead(401).end();
      return;
    }
    const status = answer(res, (server.address() as { port: number }).port);
    print({ type: 'batch', id: req.headers['webhook-id'], events: payload.events ?? [], status, connection: connections.get(req.socket) });
  });
};
const server = tls === null ? http.createServer(onRequest) : https.createServer(tls, onRequest);
server.on(tls === null ? 'connection' : 'secureConnection', numberConnection);
server.on('tlsClientError', (err: Error) => print({ type: 'tls-error', reason: err.message }));
server.keepAliveTimeout = 60_000;

server.listen(Number(args.port), args.host, () => print({ type: 'listening', port: (server.address() as { port: number }).port }));

createInterface({ input: process.stdin }).on('line', (line) => {
  const [word, value] = line.trim().split(/\s+/);
  if (word === 'fail-rate') failRate = Number(value);
  else if (MODES.includes(word as Mode)) mode = word as Mode;
  else return;
  print({ type: 'mode', mode, failRate });
});
process.stdin.on('end', () => undefined);
process.on('SIGTERM', () => process.exit(0));
