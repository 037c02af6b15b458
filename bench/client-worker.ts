/**
 * Entry point of a client worker: `client-worker.ts <worker index>`. It holds a pool of
 * thin clients of one kind and drives them as the orchestrator asks: connect, a closed
 * fan-out loop, an open-loop latency probe. It counts every delivery and keeps counting
 * until told otherwise, so nothing that arrives late goes unseen.
 */
import { openClient, type BenchClient, type ClientEvents, type WireProtocol } from './clients/bench-client';
import { makePayload, readPayload } from './clients/payload';
import { rawProtocol } from './clients/raw-protocol';
import { sioProtocol } from './clients/sio-protocol';
import { announce, serveRequests } from './child-link';
import { nowMs, nowUs } from './clock';
import { Histogram } from './histogram';
import type { ClientKind, Counters, Phases, WorkerRequest } from './ipc';

const PROTOCOLS: Record<ClientKind, WireProtocol> = { raw: rawProtocol, sio: sioProtocol };
const MAX_ERROR_SAMPLES = 10;
/** Sender ids are unique across workers: worker index times this, plus the client's index. */
const SENDERS_PER_WORKER = 1_000_000;

const workerIndex = Number(process.argv[2] ?? 0);
const clients: BenchClient[] = [];
let counters: Counters = freshCounters(0);
/** 0 before the measured window, 1 inside it, 2 after it. */
let phase: 0 | 1 | 2 = 0;
let phaseTimers: NodeJS.Timeout[] = [];
/** Clients below this index are closed-loop senders (fan-out only). */
let closedLoopSenders = 0;
let histogram: Histogram | null = null;
const nextSeq: number[] = [];

function freshCounters(notices: number): Counters {
  return { chats: [0, 0, 0], notices, sent: 0, lastNoticeAtMs: 0, open: clients.length, errors: 0, errorSamples: [] };
}

function senderId(index: number): number {
  return workerIndex * SENDERS_PER_WORKER + index;
}

function sendFrom(index: number): void {
  const seq = nextSeq[index] ?? 0;
  nextSeq[index] = seq + 1;
  (clients[index] as BenchClient).sendChat(makePayload(senderId(index), seq, nowUs()));
  counters.sent += 1;
}

function eventsFor(index: number): ClientEvents {
  return {
    chat(frame) {
      counters.chats[phase] += 1;
      if (histogram !== null && phase === 1) {
        const payload = readPayload(frame);
        if (payload !== null) histogram.record(nowUs() - payload.sentUs);
      }
      // A closed-loop sender sends its next message when one of its own comes back.
      if (index < closedLoopSenders && phase < 2 && readPayload(frame)?.sender === senderId(index)) sendFrom(index);
    },
    notice() {
      counters.notices += 1;
      counters.lastNoticeAtMs = nowMs();
    },
    error(message) {
      counters.errors += 1;
      if (counters.errorSamples.length < MAX_ERROR_SAMPLES) counters.errorSamples.push(message);
    },
  };
}

/** Opens `count` clients, at most `concurrency` handshakes in flight; fails on the first refusal. */
async function connect(url: string, kind: ClientKind, count: number, concurrency: number): Promise<void> {
  const first = clients.length;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = first + next;
      next += 1;
      clients[index] = await openClient(url, PROTOCOLS[kind], eventsFor(index));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  if (clients.length !== first + count) throw new Error(`opened ${clients.length - first} of ${count} clients`);
  counters.open = clients.length;
}

/** Starts a new measurement: chat counters from zero, phase timers from `startAt`. */
function startPhases(phases: Phases, onStart: () => void, onEnd: () => void): void {
  for (const timer of phaseTimers) clearTimeout(timer);
  counters = { ...freshCounters(counters.notices), lastNoticeAtMs: counters.lastNoticeAtMs };
  phase = 0;
  const at = (epochMs: number, action: () => void) => phaseTimers.push(setTimeout(action, epochMs - Date.now()));
  at(phases.startAt, onStart);
  at(phases.startAt + phases.warmupMs, () => {
    phase = 1;
  });
  at(phases.startAt + phases.warmupMs + phases.measureMs, () => {
    phase = 2;
    onEnd();
  });
}

function fanout(phases: Phases, senders: number, window: number): void {
  histogram = null;
  closedLoopSenders = 0;
  const count = Math.min(senders, clients.length);
  startPhases(
    phases,
    () => {
      closedLoopSenders = count;
      for (let index = 0; index < count; index += 1) for (let k = 0; k < window; k += 1) sendFrom(index);
    },
    () => {
      closedLoopSenders = 0;
    },
  );
}

/** Open loop: sends on a fixed schedule whatever comes back, so a slow server cannot slow the probe. */
function latency(phases: Phases, rate: number, send: boolean): void {
  histogram = new Histogram();
  closedLoopSenders = 0;
  const intervalMs = 1000 / rate;
  let sending = false;
  let sentCount = 0;
  const tick = (): void => {
    if (!sending) return;
    sendFrom(0);
    sentCount += 1;
    setTimeout(tick, phases.startAt + sentCount * intervalMs - Date.now());
  };
  startPhases(
    phases,
    () => {
      sending = send && clients.length > 0;
      tick();
    },
    () => {
      sending = false;
    },
  );
}

serveRequests<WorkerRequest>(async (request) => {
  switch (request.cmd) {
    case 'connect':
      await connect(request.url, request.kind, request.count, request.concurrency);
      return { ok: true };
    case 'fanout':
      fanout(request.phases, request.senders, request.window);
      return { ok: true };
    case 'latency':
      latency(request.phases, request.rate, request.send);
      return { ok: true };
    case 'counters':
      return counters;
    case 'histogram':
      return (histogram ?? new Histogram()).toData();
  }
});

announce({ ready: true });

process.on('exit', () => {
  for (const client of clients) client.terminate();
});
