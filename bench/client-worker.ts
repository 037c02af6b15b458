/**
 * Entry point of a client worker: `client-worker.ts <worker index>`. It holds a pool of
 * thin clients of one kind, in one room or dealt into several, and drives them as the
 * orchestrator asks: connect, a closed fan-out loop, an open-loop latency probe, probes
 * through a join storm (probe-log.ts). It counts
 * every delivery and keeps counting until told otherwise, so nothing that arrives late
 * goes unseen; with several rooms it also counts any delivery to the wrong room.
 */
import { openClient, type BenchClient, type ClientEvents, type WireProtocol } from './clients/bench-client';
import { makePayload, readPayload, type Payload } from './clients/payload';
import { rawProtocol } from './clients/raw-protocol';
import { sioProtocol } from './clients/sio-protocol';
import { announce, serveRequests } from './child-link';
import { nowMs, nowUs } from './clock';
import { Histogram } from './histogram';
import type { ClientKind, Counters, Phases, WorkerRequest } from './ipc';
import { ProbeLog } from './probe-log';

const PROTOCOLS: Record<ClientKind, (room: string) => WireProtocol> = { raw: rawProtocol, sio: sioProtocol };
const MAX_ERROR_SAMPLES = 10;
/** Sender ids are unique across workers: worker index times this, plus the client's index. */
const SENDERS_PER_WORKER = 1_000_000;

const workerIndex = Number(process.argv[2] ?? 0);
const clients: BenchClient[] = [];
/** Each client's room, as its index in the connect request's list (the same in every worker). */
const roomOf: number[] = [];
/**
 * Whether the clients are in several rooms. Only then is every chat's payload read to
 * check its room: in one room nothing can stray, and a parse per frame would cost the
 * client core what a one-room trial has always measured without it.
 */
let checkRooms = false;
let counters: Counters = freshCounters(0);
/** 0 before the measured window, 1 inside it, 2 after it. */
let phase: 0 | 1 | 2 = 0;
let phaseTimers: NodeJS.Timeout[] = [];
/** 1 for the clients that are closed-loop senders right now (fan-out only). */
let closedLoop = new Uint8Array(0);
let histogram: Histogram | null = null;
const nextSeq: number[] = [];
/** Set during a join storm with probes: every chat is then read as a probe. */
let probeLog: ProbeLog | null = null;
let probeTimer: NodeJS.Timeout | null = null;
const probesSentUs: number[] = [];

function freshCounters(notices: number): Counters {
  return { chats: [0, 0, 0], misrouted: 0, notices, sent: 0, lastNoticeAtMs: 0, open: clients.length, errors: 0, errorSamples: [] };
}

function senderId(index: number): number {
  return workerIndex * SENDERS_PER_WORKER + index;
}

function sendFrom(index: number): void {
  const seq = nextSeq[index] ?? 0;
  nextSeq[index] = seq + 1;
  (clients[index] as BenchClient).sendChat(makePayload(senderId(index), seq, nowUs(), roomOf[index] ?? 0));
  counters.sent += 1;
}

function eventsFor(index: number): ClientEvents {
  return {
    chat(frame) {
      // Read at most once, and only when needed (undefined: not read yet).
      let payload: Payload | null | undefined;
      if (checkRooms) {
        payload = readPayload(frame);
        if (payload === null) {
          recordError(`unreadable chat: ${frame.toString('utf8', 0, 60)}`);
          return;
        }
        // Not a delivery: a message must reach its own room and no other.
        if (payload.room !== roomOf[index]) {
          counters.misrouted += 1;
          return;
        }
      }
      counters.chats[phase] += 1;
      if (probeLog !== null) {
        if (payload === undefined) payload = readPayload(frame);
        if (payload !== null) probeLog.received(index, payload.sentUs, nowUs());
      }
      if (histogram !== null && phase === 1) {
        if (payload === undefined) payload = readPayload(frame);
        if (payload !== null) histogram.record(nowUs() - payload.sentUs);
      }
      // A closed-loop sender sends its next message when one of its own comes back.
      if (closedLoop[index] === 1 && phase < 2) {
        if (payload === undefined) payload = readPayload(frame);
        if (payload?.sender === senderId(index)) sendFrom(index);
      }
    },
    notice() {
      counters.notices += 1;
      counters.lastNoticeAtMs = nowMs();
      probeLog?.noticed(index, nowUs());
    },
    error: recordError,
  };
}

function recordError(message: string): void {
  counters.errors += 1;
  if (counters.errorSamples.length < MAX_ERROR_SAMPLES) counters.errorSamples.push(message);
}

/**
 * Opens `count` clients dealt into `rooms` in turn, at most `concurrency` handshakes in
 * flight, each from the next of `localAddresses` (if any); fails on the first refusal.
 */
async function connect(url: string, kind: ClientKind, count: number, concurrency: number, rooms: readonly string[], localAddresses: readonly string[] = []): Promise<void> {
  const first = clients.length;
  const protocols = rooms.map(PROTOCOLS[kind]);
  checkRooms = rooms.length > 1;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = first + next;
      const room = next % rooms.length;
      next += 1;
      roomOf[index] = room;
      const from = localAddresses[index % Math.max(1, localAddresses.length)];
      clients[index] = await openClient(url, protocols[room] as WireProtocol, eventsFor(index), from);
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

/** The requested senders that this worker has. */
function ownSenders(senders: readonly number[]): number[] {
  return senders.filter((index) => index < clients.length);
}

function fanout(phases: Phases, senders: readonly number[], window: number): void {
  histogram = null;
  closedLoop = new Uint8Array(clients.length);
  const chosen = ownSenders(senders);
  startPhases(
    phases,
    () => {
      for (const index of chosen) closedLoop[index] = 1;
      for (const index of chosen) for (let k = 0; k < window; k += 1) sendFrom(index);
    },
    () => {
      closedLoop.fill(0);
    },
  );
}

/**
 * Open loop: sends on a fixed schedule whatever comes back, so a slow server cannot slow
 * the probe. Several senders take turns on one schedule, evenly spaced, so that each
 * sends `rate` messages/s and they do not all send in the same millisecond.
 */
function latency(phases: Phases, rate: number, senders: readonly number[]): void {
  histogram = new Histogram();
  closedLoop.fill(0);
  const chosen = ownSenders(senders);
  const intervalMs = 1000 / (rate * Math.max(1, chosen.length));
  let sending = false;
  let sentCount = 0;
  const tick = (): void => {
    if (!sending) return;
    // Everything due by now: at thousands of messages/s a timer cannot fire for each one.
    do {
      sendFrom(chosen[sentCount % chosen.length] as number);
      sentCount += 1;
    } while (phases.startAt + sentCount * intervalMs <= Date.now());
    setTimeout(tick, phases.startAt + sentCount * intervalMs - Date.now());
  };
  startPhases(
    phases,
    () => {
      sending = chosen.length > 0;
      tick();
    },
    () => {
      sending = false;
    },
  );
}

/** Client `index` sends a probe now and every `intervalMs` (open loop, whatever comes back). */
function startProbes(index: number, intervalMs: number): void {
  const client = clients[index];
  if (client === undefined) throw new Error(`no client ${index} to send probes`);
  const send = (): void => {
    const sentUs = nowUs();
    client.sendChat(makePayload(senderId(index), probesSentUs.length, sentUs, 0));
    probesSentUs.push(sentUs);
    counters.sent += 1;
  };
  send();
  probeTimer = setInterval(send, intervalMs);
}

function stopProbes(): number[] {
  if (probeTimer !== null) clearInterval(probeTimer);
  probeTimer = null;
  return probesSentUs;
}

serveRequests<WorkerRequest>(async (request) => {
  switch (request.cmd) {
    case 'connect':
      await connect(request.url, request.kind, request.count, request.concurrency, request.rooms, request.localAddresses);
      return { ok: true };
    case 'fanout':
      fanout(request.phases, request.senders, request.window);
      return { ok: true };
    case 'latency':
      latency(request.phases, request.rate, request.senders);
      return { ok: true };
    case 'counters':
      return counters;
    case 'histogram':
      return (histogram ?? new Histogram()).toData();
    case 'probe-watch':
      probeLog = new ProbeLog();
      return { ok: true };
    case 'probe-start':
      startProbes(request.sender, request.intervalMs);
      return { ok: true };
    case 'probe-stop':
      return stopProbes();
    case 'probe-tally':
      return (probeLog ?? new ProbeLog()).tally(request.sentUs);
    case 'probe-latency':
      return (probeLog ?? new ProbeLog()).latency();
  }
});

announce({ ready: true });

process.on('exit', () => {
  for (const client of clients) client.terminate();
});
