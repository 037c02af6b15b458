import { readdirSync } from 'node:fs';
import { Fleet, joinNotices, sleep, type WorkerGroup } from './fleet';
import type { ClientKind, LoopDelay, MemoryReading, ProcessReading, ProcessReadingKind } from './ipc';
import { roomNames } from './many-rooms';
import type { Profile } from './profiles';
import { assertNoErrors, probeLatency, type Delivery, type RoomResult, type Talkers } from './room-trial';

/**
 * The loopback addresses the clients connect from, in turn: each source address has only
 * the ephemeral port range to connect to the server's one port from.
 */
const SOURCE_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
/** A collection in each of the server's processes, one after another. */
const READING_TIMEOUT_MS = 180_000;

/** The memory of every process of the server side, added up. */
export interface DeploymentMemory extends MemoryReading {
  processes: number;
}

export interface C100kResult {
  serverWorkers: number;
  rooms: number;
  clientsPerRoom: number;
  clients: Record<ClientKind, number>;
  /** Idle and collected: with no client, after the raw half connected, after both halves. */
  memory: { empty: DeploymentMemory; raw: DeploymentMemory; all: DeploymentMemory };
  /** From the first handshake of each half to the last of its clients ready. */
  connectSeconds: Record<ClientKind, number>;
  /** The join notices of both halves. */
  notices: Delivery;
  /** Open files once all connected: the primary's, and each worker's. */
  openFiles: { primary: number; workers: number[] };
  /** The server's share of its core while all sat idle, before the last memory reading (null without /proc). */
  idleCpu: number | null;
  /** A message per room per second; `loop`: the worst process's event-loop delay meanwhile. */
  messages: RoomResult['latency'] & { loop: LoopDelay };
}

/**
 * The client workers: the first half raw, the second half Socket.IO, each dealing its
 * clients into every room in turn, so that each room gets clientsPerRoom / clientWorkers
 * clients from each worker (half of them raw), and each worker's first `rooms` clients
 * are one per room.
 */
export function c100kGroups(profile: Profile): WorkerGroup[] {
  const { rooms, clientsPerRoom, clientWorkers } = profile.c100k;
  if (clientWorkers % 2 !== 0 || clientsPerRoom % clientWorkers !== 0) {
    throw new Error(`profile ${profile.name}: c100k needs an even number of client workers dividing the clients per room`);
  }
  const names = roomNames(rooms);
  const count = (rooms * clientsPerRoom) / clientWorkers;
  return Array.from({ length: clientWorkers }, (_, i) => ({
    kind: i < clientWorkers / 2 ? 'raw' : 'sio',
    count,
    rooms: names,
    localAddresses: SOURCE_ADDRESSES,
  }));
}

/**
 * One talker per room: room r's is client r of worker r % clientWorkers (that client is
 * in room r), so talkers of both kinds, spread over every worker.
 */
function c100kTalkers(profile: Profile): Talkers {
  const { rooms, clientsPerRoom, clientWorkers } = profile.c100k;
  return {
    rooms,
    latency: (worker) => Array.from({ length: rooms }, (_, room) => room).filter((room) => room % clientWorkers === worker),
    fanout: () => [],
    window: 0,
    audience: clientsPerRoom,
    notices: rooms * joinNotices(clientsPerRoom),
  };
}

function readEach(fleet: Fleet, reading: ProcessReadingKind): Promise<ProcessReading[]> {
  return fleet.server.main.request<ProcessReading[]>({ cmd: 'each-process', reading }, READING_TIMEOUT_MS);
}

async function deploymentMemory(fleet: Fleet): Promise<DeploymentMemory> {
  const total: DeploymentMemory = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, processes: 0 };
  for (const { memory } of await readEach(fleet, 'memory')) {
    if (memory === undefined) throw new Error('a server process sent no memory reading');
    total.rss += memory.rss;
    total.heapTotal += memory.heapTotal;
    total.heapUsed += memory.heapUsed;
    total.external += memory.external;
    total.processes += 1;
  }
  return total;
}

function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

/**
 * C100k: ours as one node of WORKERS processes (the `ours-c100k` setup; c100k-plan.ts
 * gives its settings). The server's memory is read idle with no client; then the raw
 * half connects, `connectConcurrency` handshakes at a time per client worker, and once
 * every join notice has arrived and the server has sat idle for `settleMs` (its CPU read
 * meanwhile), its memory is read again; the same for the Socket.IO half. Then every room's talker sends one
 * message per second (room-trial.ts's probe), which must reach all of its room.
 */
export async function runC100kTrial(profile: Profile, log: (line: string) => void): Promise<C100kResult> {
  const { rooms, clientsPerRoom, serverWorkers, connectConcurrency } = profile.c100k;
  const groups = c100kGroups(profile);
  const fleet = await Fleet.start('ours-c100k', groups);
  try {
    await sleep(profile.settleMs);
    const empty = await deploymentMemory(fleet);
    const half = (kind: ClientKind) => groups.flatMap((group, i) => (group.kind === kind ? [i] : []));
    let noticesSeen = 0;
    const connectHalf = async (kind: ClientKind, perRoom: number) => {
      const startedAt = Date.now();
      await fleet.connect(connectConcurrency, profile.connectTimeoutMs, half(kind));
      const seconds = (Date.now() - startedAt) / 1000;
      log(`  C100k: the ${kind} half connected in ${seconds.toFixed(1)} s`);
      // Several processes: two joins can cross, and both be told of both (see runRoomTrial).
      const expected = rooms * joinNotices(perRoom);
      const settled = await fleet.waitFor((t) => t.notices >= expected, profile.stallMs);
      assertNoErrors(settled, `connecting the ${kind} half`);
      if (settled.notices < expected) throw new Error(`${settled.notices} of ${expected} join notices arrived`);
      noticesSeen = settled.notices;
      const before = fleet.cpu().server;
      const quietFrom = Date.now();
      await sleep(profile.settleMs);
      const after = fleet.cpu().server;
      const idleCpu = before === null || after === null ? null : (after - before) / ((Date.now() - quietFrom) / 1000);
      return { seconds, idleCpu, memory: await deploymentMemory(fleet) };
    };
    const { seconds: rawSeconds, memory: raw } = await connectHalf('raw', clientsPerRoom / 2);
    const { seconds: sioSeconds, memory: all, idleCpu } = await connectHalf('sio', clientsPerRoom);
    const [primary = -1, ...workers] = fleet.server.pids;
    const files = { primary: openFiles(primary), workers: workers.map(openFiles) };

    const talkers = c100kTalkers(profile);
    const rate = { ...profile, latencyRate: 1, latencyWarmupMs: profile.c100k.warmupMs, latencyMeasureMs: profile.c100k.measureMs };
    await readEach(fleet, 'loop-start');
    const latency = await probeLatency(fleet, rate, talkers, talkers.latency as (worker: number) => number[]);
    const delays = (await readEach(fleet, 'loop')).flatMap((reading) => (reading.loop === undefined ? [] : [reading.loop]));
    const loop = { p99Ms: Math.max(...delays.map((d) => d.p99Ms)), maxMs: Math.max(...delays.map((d) => d.maxMs)) };
    const clients = (rooms * clientsPerRoom) / 2;
    const expected = talkers.notices;
    return {
      serverWorkers,
      rooms,
      clientsPerRoom,
      clients: { raw: clients, sio: clients },
      memory: { empty, raw, all },
      connectSeconds: { raw: rawSeconds, sio: sioSeconds },
      notices: { delivered: Math.min(noticesSeen, expected), expected, ...(noticesSeen > expected ? { surplus: noticesSeen - expected } : {}) },
      openFiles: files,
      idleCpu,
      messages: { ...latency, loop },
    };
  } finally {
    await fleet.stop();
  }
}
