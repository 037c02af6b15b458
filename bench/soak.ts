/**
 * A bounded soak: `npm run soak -- --minutes 2`.
 *
 * The real entry point runs in its own process with its default limits. Stable observers
 * (half raw JSON, half Socket.IO) stay connected from start to end; senders of both kinds
 * keep messages flowing within the default flood control; meanwhile churners join and
 * leave all the time, a third of them vanishing without a close. At the end it reports
 * the messages that the stable observers missed (must be 0; a message counts once its
 * sender has its ack), the server's RSS at start, half-way and at the end, and its
 * event-loop lag p99, read from /metrics as an operator would.
 *
 * The server keeps its default store, SQLite, in `--data-dir DIR` (or DATA_DIR from the
 * environment) when given, else in a fresh temporary directory removed at the end
 * (DATA_DIR=:memory: runs it without the store). The soak then also reports the
 * database's size on disk (chat.sqlite with its -wal and -shm files) just before the
 * server is stopped and after it has stopped, and the rows it holds, read after the stop.
 *
 * Webhooks are on unless `--webhooks off`: the server posts its events to a receiver in a
 * process of its own (tools/webhook-receiver.ts) that answers 500 to a fifth of the batches
 * at random (`--webhook-fail-rate`), and retries them (WEBHOOK_RETRY_MAX_MS=2000, so the
 * retries keep up). Once the load stops and every client has left, the soak waits for the
 * outbox to drain, then reports every acknowledged message's `message.created` received
 * or lost (must be 0), duplicates, the member and room events' balance and the batches
 * answered 500 (bench/webhook-receiver-process.ts).
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import type { ChatAck, ClientToServerEvents, RawJsonFrame, ServerToClientEvents } from '../server/protocol';
import { DATABASE_FILE } from '../server/store/sqlite-store';
import { TOTALS } from '../server/store/sqlite/schema';
import { TSX_NODE_FLAGS } from '../tools/tsx';
import { newWebhookSecret, waitForDrain, webhookFailures, webhookReport, WebhookReceiverProcess, type WebhookReport } from './webhook-receiver-process';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    stable: { type: 'string', default: '40' },
    senders: { type: 'string', default: '6' },
    'rate-per-sender': { type: 'string', default: '15' }, // below the default RATE_LIMIT of 20/s
    churn: { type: 'string', default: '20' }, // new clients per second
    'data-dir': { type: 'string', default: process.env.DATA_DIR ?? '' }, // empty: a fresh temporary directory
    webhooks: { type: 'string', default: 'on' },
    'webhook-fail-rate': { type: 'string', default: '0.2' },
  },
});
if (args.webhooks !== 'on' && args.webhooks !== 'off') throw new Error(`--webhooks is on or off, not "${args.webhooks}"`);
const webhooksOn = args.webhooks === 'on';
const webhookFailRate = Number(args['webhook-fail-rate']);
/** The longest wait between retries of a failed batch: short, so that retries keep up with the load. */
const WEBHOOK_RETRY_MAX_MS = '2000';
/** How long the outbox may take to drain once the clients have gone. */
const WEBHOOK_DRAIN_TIMEOUT_MS = 60_000;
const minutes = Number(args.minutes);
const stableCount = Number(args.stable);
const senderCount = Number(args.senders);
const ratePerSender = Number(args['rate-per-sender']);
const churnPerSecond = Number(args.churn);

const ROOT = path.resolve(__dirname, '..');
/** Where the server keeps its store: as given, or a temporary directory of this soak's own. */
const givenDataDir = args['data-dir'] ?? '';
const dataDir = givenDataDir === '' ? mkdtempSync(path.join(os.tmpdir(), 'chat-bridge-soak-data-')) : givenDataDir;
const sqlite = dataDir !== ':memory:';
const removeTemporaryDataDir = () => {
  if (givenDataDir === '') rmSync(dataDir, { recursive: true, force: true });
};
type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Set when the soak itself closes everything: closes after that are expected. */
let finishing = false;
const unexpected = (message: string) => {
  if (!finishing) console.error(message);
};

function startServer(settings: Record<string, string>): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [...TSX_NODE_FLAGS, path.join(ROOT, 'server/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', DATA_DIR: dataDir, ...settings },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let rest = '';
    child.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) {
          const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
          resolve({
            url: entry.url,
            stop: () => {
              child.kill('SIGTERM');
              return exited;
            },
          });
        }
      }
    });
  });
}

async function scrape(url: string): Promise<{ rss: number; lagP99: number; webhookQueue: number }> {
  const body = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(body.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1]);
  return { rss: value('process_resident_memory_bytes'), lagP99: value('nodejs_eventloop_lag_p99_seconds'), webhookQueue: value('chat_webhook_queue_events') };
}

/** What one stable observer received: the set of message texts. */
interface Observer {
  readonly received: Set<string>;
  close(): void;
}

function rawObserver(url: string, name: string): Promise<Observer> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket?format=json&name=${name}`);
  const received = new Set<string>();
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as RawJsonFrame;
    if (frame.type === 'chat') received.add(frame.text);
  });
  ws.on('close', (code) => unexpected(`stable raw observer ${name} closed with ${code}`));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ received, close: () => ws.close() }));
    ws.once('error', reject);
  });
}

function sioObserver(url: string, name: string): Promise<Observer> {
  const socket: ChatSocket = io(url, { transports: ['websocket'], forceNew: true, auth: { name }, reconnection: false });
  const received = new Set<string>();
  socket.on('chat', (message) => received.add(message.text));
  socket.on('disconnect', (reason) => unexpected(`stable Socket.IO observer ${name} disconnected: ${reason}`));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ received, close: () => socket.close() }));
    socket.once('connect_error', reject);
  });
}

/** A message the server acknowledged: stored, with this id. */
interface Accepted {
  id: string;
  text: string;
}

/** A sender, and the messages the server acknowledged. */
interface Sender {
  readonly accepted: Accepted[];
  send(text: string): void;
  close(): void;
}

/** A raw JSON client counting its acks (`?ack=1`): they come in the order of its frames. */
async function rawSender(url: string, name: string): Promise<Sender> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket?format=json&ack=1&name=${name}`);
  ws.on('error', (err) => console.error(`raw sender ${name}: ${err.message}`));
  await new Promise((resolve) => ws.once('open', resolve));
  const accepted: Accepted[] = [];
  const unanswered: string[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; id?: string; error?: string };
    if (frame.type !== 'ack' && frame.type !== 'error') return;
    const text = unanswered.shift() as string;
    if (frame.type === 'ack' && frame.id !== undefined) accepted.push({ id: frame.id, text });
    else console.error(`raw sender ${name} refused: ${frame.error}`);
  });
  return {
    accepted,
    send(text) {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(text);
      unanswered.push(text);
    },
    close: () => ws.close(),
  };
}

async function sioSender(url: string, name: string): Promise<Sender> {
  const socket: ChatSocket = io(url, { transports: ['websocket'], forceNew: true, auth: { name }, reconnection: false });
  await new Promise((resolve) => socket.once('connect', () => resolve(undefined)));
  const accepted: Accepted[] = [];
  return {
    accepted,
    send(text) {
      socket.emit('chat', text, (ack: ChatAck) => {
        if (ack.ok) accepted.push({ id: ack.id, text });
        else console.error(`Socket.IO sender ${name} refused: ${ack.error}`);
      });
    },
    close: () => socket.close(),
  };
}

/** One short-lived client: joins, stays a moment, leaves cleanly or vanishes. */
function churnOnce(url: string, n: number): void {
  const stayMs = 200 + Math.random() * 2800;
  const vanish = n % 3 === 0;
  if (n % 2 === 0) {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket?name=churn-${n}`);
    ws.on('error', () => undefined); // refused or cut: part of the churn
    setTimeout(() => (vanish ? ws.terminate() : ws.close()), stayMs);
  } else {
    const socket = io(url, { transports: ['websocket'], forceNew: true, auth: { name: `churn-${n}` }, reconnection: false });
    socket.on('connect_error', () => undefined);
    // "Vanishing" for Socket.IO: drop the transport without a disconnect packet.
    setTimeout(() => (vanish ? socket.io.engine?.close() : socket.close()), stayMs);
  }
}

/** The database's files and their sizes in bytes (a missing file counts 0). */
function databaseFiles(): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const suffix of ['', '-wal', '-shm']) {
    const file = `${DATABASE_FILE}${suffix}`;
    try {
      sizes[file] = statSync(path.join(dataDir, file)).size;
    } catch {
      sizes[file] = 0;
    }
  }
  return sizes;
}

const mib = (bytes: number) => +(bytes / 2 ** 20).toFixed(2);
const total = (sizes: Record<string, number>) => Object.values(sizes).reduce((a, b) => a + b, 0);

/**
 * Rows in the stopped server's database, opened read-only (after the sizes are read:
 * opening a WAL database, even read-only, brings back an empty -wal and a -shm file).
 */
function storedRows(): { messages: number; rooms: number } {
  const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  try {
    const count = (from: string, ...params: unknown[]) => (db.prepare(`SELECT count(*) AS n FROM ${from}`).get(...params) as { n: number }).n;
    // One row of `rooms` holds the store's totals, not a room.
    return { messages: count('messages'), rooms: count('rooms WHERE name <> ?', TOTALS) };
  } finally {
    db.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The webhook receiver, when webhooks are on; stopped however the soak ends. */
let receiver: WebhookReceiverProcess | null = null;

async function main(): Promise<void> {
  const secret = newWebhookSecret();
  receiver = webhooksOn ? await WebhookReceiverProcess.start(secret, webhookFailRate) : null;
  const webhookSettings: Record<string, string> =
    receiver === null ? {} : { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret, WEBHOOK_RETRY_MAX_MS };
  const server = await startServer(webhookSettings);
  const webhooksLine = receiver === null ? 'webhooks off' : `webhooks to ${receiver.url}, answering 500 to ${webhookFailRate * 100}% of batches`;
  console.log(`soak: ${minutes} min against ${server.url}, store ${sqlite ? `SQLite in ${dataDir}` : 'in memory (DATA_DIR=:memory:)'}, ${webhooksLine}`);
  const observers = await Promise.all(
    Array.from({ length: stableCount }, (_, i) =>
      i % 2 === 0 ? rawObserver(server.url, `stable-${i}`) : sioObserver(server.url, `stable-${i}`),
    ),
  );
  const senders = await Promise.all(
    Array.from({ length: senderCount }, (_, i) =>
      i % 2 === 0 ? rawSender(server.url, `sender-${i}`) : sioSender(server.url, `sender-${i}`),
    ),
  );
  await sleep(500);
  const start = await scrape(server.url);
  const lagSamples: number[] = [];
  const rssSamples: number[] = [];

  const endAt = Date.now() + minutes * 60_000;
  let seq = 0;
  let churned = 0;
  const sendTimer = setInterval(() => {
    for (const [i, sender] of senders.entries()) sender.send(`soak ${i} ${seq}`);
    seq += 1;
  }, 1000 / ratePerSender);
  const churnTimer = setInterval(() => churnOnce(server.url, churned++), 1000 / churnPerSecond);
  const scrapeTimer = setInterval(() => {
    scrape(server.url).then(
      (s) => {
        lagSamples.push(s.lagP99);
        rssSamples.push(s.rss);
      },
      (err: unknown) => console.error(`scrape failed: ${String(err)}`),
    );
  }, 5_000);
  while (Date.now() < endAt) await sleep(250);
  clearInterval(sendTimer);
  clearInterval(churnTimer);
  clearInterval(scrapeTimer);
  await sleep(4_000); // churners finish, acks and deliveries drain
  const end = await scrape(server.url);

  const accepted = senders.flatMap((s) => s.accepted);
  const lost = observers.map((o) => accepted.filter(({ text }) => !o.received.has(text)).length);
  const result = {
    minutes,
    stableObservers: stableCount,
    senders: senderCount,
    messagesAccepted: accepted.length,
    clientsChurned: churned,
    messagesLostForStableClients: lost.reduce((a, b) => a + b, 0),
    rssStartMiB: +(start.rss / 2 ** 20).toFixed(1),
    // Half-way through: memory that keeps growing shows as an end well above it.
    rssMidMiB: +((rssSamples[Math.floor(rssSamples.length / 2)] ?? Number.NaN) / 2 ** 20).toFixed(1),
    rssEndMiB: +(end.rss / 2 ** 20).toFixed(1),
    eventLoopLagP99Ms: +(Math.max(...lagSamples, end.lagP99) * 1000).toFixed(2),
  };
  finishing = true;
  for (const sender of senders) sender.close();
  for (const observer of observers) observer.close();
  let webhooks: WebhookReport | null = null;
  if (receiver !== null) {
    const drained = await waitForDrain(receiver, async () => (await scrape(server.url)).webhookQueue, WEBHOOK_DRAIN_TIMEOUT_MS);
    webhooks = webhookReport(receiver, accepted.map(({ id }) => id), drained);
  }
  const filesRunning = sqlite ? databaseFiles() : null;
  const exitCode = await server.stop();
  // A clean stop checkpoints the WAL into chat.sqlite and removes -wal and -shm.
  const filesStopped = sqlite ? databaseFiles() : null;
  let rows: ReturnType<typeof storedRows> | null = null;
  try {
    if (sqlite) rows = storedRows();
  } finally {
    removeTemporaryDataDir();
  }
  const store = {
    store: sqlite ? 'sqlite' : 'memory',
    databaseMiBBeforeStop: filesRunning === null ? null : mib(total(filesRunning)),
    databaseMiBAfterStop: filesStopped === null ? null : mib(total(filesStopped)),
    messagesStored: rows?.messages ?? null,
    roomsStored: rows?.rooms ?? null,
  };

  console.table({ ...result, ...store });
  if (webhooks !== null) console.table(webhooks);
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const details = {
    rssSamplesMiB: rssSamples.map((rss) => +(rss / 2 ** 20).toFixed(1)),
    dataDir: givenDataDir === '' ? `${dataDir} (temporary, removed)` : dataDir,
    filesBeforeStop: filesRunning,
    filesAfterStop: filesStopped,
  };
  writeFileSync(file, `${JSON.stringify({ ...result, ...store, webhooks, ...details, serverExitCode: exitCode }, null, 2)}\n`);
  console.log(`written: ${path.relative(ROOT, file)}`);
  const webhookProblems = webhooks === null ? [] : webhookFailures(webhooks);
  for (const problem of webhookProblems) console.error(`webhooks: ${problem}`);
  if (result.messagesLostForStableClients > 0 || exitCode !== 0 || webhookProblems.length > 0) process.exitCode = 1;
}

main()
  .catch((err: unknown) => {
    console.error(err);
    removeTemporaryDataDir();
    process.exitCode = 1;
  })
  .finally(() => receiver?.stop())
  .finally(() => process.exit());
