import type { Timed } from './plan';
import type { Profile } from './profiles';
import type { Delivery } from './room-trial';
import { LATENCY_CEILING_MS } from './histogram';
import { finish, type Better, type Row, type Target, type Unit } from './rows';
import { useC100kSettings } from './server-side';
import { runC100kTrial, type C100kResult, type DeploymentMemory } from './c100k-trial';

/** Issue #25's targets: idle RSS per connection above the empty server, and the messages' p99. */
const RSS_TARGET: Target = { limit: 8 * 1024 };
const P99_TARGET: Target = { limit: 100 };
const MIB = 1024 * 1024;
/** The issue's count; a profile with fewer says so in every row's label. */
const ISSUE_CLIENTS = 100_000;

/** Trials in runC100kPlan: one; it takes minutes and several GiB at full size. */
export const C100K_STEPS = 1;

/**
 * Ours as one node of `serverWorkers` processes behind one port: no process may hold more
 * than the hard file limit of sockets, so one process cannot hold them all here.
 * Admission and the room limit count per process: each worker's share of the clients is
 * above the default MAX_CONNECTIONS, and each worker holds every room (its clients are in
 * all of them) besides the lobby, which always counts.
 */
export function c100kSettings(profile: Profile): string[] {
  const { rooms, clientsPerRoom, serverWorkers } = profile.c100k;
  return [`WORKERS=${serverWorkers}`, `MAX_CONNECTIONS=${rooms * clientsPerRoom}`, `MAX_ROOMS=${rooms + 1}`];
}

const line = (r: C100kResult) => {
  const total = r.clients.raw + r.clients.sio;
  const seconds = r.connectSeconds.raw + r.connectSeconds.sio;
  const { raw, sio } = perConnection(r);
  const m = r.messages;
  return (
    `${total} connected in ${seconds.toFixed(1)} s; RSS per connection raw ${(raw.rss / 1024).toFixed(1)} KiB, Socket.IO ${(sio.rss / 1024).toFixed(1)} KiB; ` +
    `messages p99 ${m.p99Ms.toFixed(1)} ms, ${m.delivered}/${m.expected} delivered; open files: primary ${r.openFiles.primary}, workers ${r.openFiles.workers.join(' ')}`
  );
};

export async function runC100kPlan(profile: Profile, timed: Timed): Promise<C100kResult> {
  const settings = c100kSettings(profile);
  useC100kSettings(settings);
  const { rooms, clientsPerRoom } = profile.c100k;
  return timed(`C100k: ${rooms * clientsPerRoom} clients in ${rooms} rooms, ours with ${settings.join(' ')}`, () => runC100kTrial(profile, (text) => process.stderr.write(`${text}\n`)), line);
}

interface PerConnection {
  rss: number;
  heap: number;
}

function grewPer(after: DeploymentMemory, before: DeploymentMemory, clients: number): PerConnection {
  return {
    rss: (after.rss - before.rss) / clients,
    heap: (after.heapUsed + after.external - before.heapUsed - before.external) / clients,
  };
}

/** Each half above the reading before it, and all clients above the empty server. */
function perConnection(r: C100kResult): Record<'raw' | 'sio' | 'all', PerConnection> {
  const { empty, raw, all } = r.memory;
  return {
    raw: grewPer(raw, empty, r.clients.raw),
    sio: grewPer(all, raw, r.clients.sio),
    all: grewPer(all, empty, r.clients.raw + r.clients.sio),
  };
}

/** A row of one measured value, held against a target (or nothing): no baseline, no ratio. */
function single(id: string, label: string, unit: Unit, value: number, against: string, delivery: Delivery, target: Target | null = null): Row {
  const better: Better = 'lower';
  const measure = { id, label, unit, better, target, value: () => value, delivery: () => delivery };
  return finish(measure, against, [value], [], [Number.NaN], [delivery]);
}

/** What the rows are called: a full run short of the issue's count says so (see profiles.ts). */
function titleOf(total: number, profile: Profile): string {
  if (total >= ISSUE_CLIENTS) return 'C100k';
  return profile.name === 'full' ? `C100k fallback, ${total} of ${ISSUE_CLIENTS} clients` : `C100k (${profile.name}: ${total} clients)`;
}

export function buildC100kRows(r: C100kResult, profile: Profile): Row[] {
  const total = r.clients.raw + r.clients.sio;
  const title = titleOf(total, profile);
  const { empty } = r.memory;
  const per = perConnection(r);
  const where = `${r.rooms} rooms of ${r.clientsPerRoom}, WORKERS=${r.serverWorkers}`;
  const emptyServer = `the empty server: ${(empty.rss / MIB).toFixed(0)} MiB RSS, ${((empty.heapUsed + empty.external) / MIB).toFixed(0)} MiB heap + external, ${empty.processes} processes`;
  const memoryRows = (kind: 'raw' | 'sio' | 'all', name: string, against: string): Row[] => [
    single(`c100k-${kind}-rss`, `${title}: ${name} idle RSS per connection (${where})`, 'bytes', per[kind].rss, against, r.notices, RSS_TARGET),
    single(`c100k-${kind}-heap`, `${title}: ${name} idle heap + external per connection`, 'bytes', per[kind].heap, against, r.notices),
  ];
  const m = r.messages;
  const messages = `1 msg/s in each of ${r.rooms} rooms (${r.rooms} msg/s to ${total} clients)`;
  const processes = empty.processes;
  return [
    single('c100k-connect-raw', `${title}: ${r.clients.raw} raw clients connect (${where}), first`, 's', r.connectSeconds.raw, 'none', r.notices),
    single('c100k-connect-sio', `${title}: ${r.clients.sio} Socket.IO clients connect into the same rooms, then`, 's', r.connectSeconds.sio, 'none', r.notices),
    single('c100k-connect-all', `${title}: all ${total} clients connect (both halves)`, 's', r.connectSeconds.raw + r.connectSeconds.sio, 'none', r.notices),
    ...memoryRows('raw', `raw (${r.clients.raw})`, emptyServer),
    ...memoryRows('sio', `Socket.IO (${r.clients.sio})`, 'the server after the raw half'),
    ...memoryRows('all', `all ${total}`, emptyServer),
    single('c100k-latency-p50', `${title}: latency p50, ${messages}`, 'ms', m.p50Ms, 'none', m),
    single('c100k-latency-p99', `${title}: latency p99, ${messages}`, 'ms', m.p99Ms, 'none', m, P99_TARGET),
    single('c100k-latency-max', `${title}: latency max, ${messages}`, 'ms', m.maxMs, 'none', m),
    single('c100k-loop-p99', `${title}: event-loop delay p99 during the messages, the worst of ${processes} server processes`, 'ms', m.loop.p99Ms, 'none', m),
    single('c100k-loop-max', `${title}: event-loop delay max during the messages, the worst of ${processes} server processes`, 'ms', m.loop.maxMs, 'none', m),
    single('c100k-cpu', `${title}: server CPU during the messages, all ${processes} processes on one core`, 'core', m.serverCpu ?? Number.NaN, 'none', m),
    single('c100k-idle-cpu', `${title}: server CPU with all ${total} connected and idle (no messages)`, 'core', r.idleCpu ?? Number.NaN, 'none', r.notices),
  ];
}

/** Under the table: what the memory rows subtract, and where the sockets were. */
export function c100kNote(r: C100kResult): string {
  const clientCpu = r.messages.clientCpu === null ? 'n/a' : `${(r.messages.clientCpu * 100).toFixed(0)}% of a core`;
  const ceiling = r.messages.p99Ms >= LATENCY_CEILING_MS ? ` The latency p99 is the latency histogram's ceiling: at least ${LATENCY_CEILING_MS / 1000} s; deliveries that came after the window are counted, not timed.` : '';
  return (
    `C100k: ours as one node of WORKERS=${r.serverWorkers} (the primary owns the port and hands each connection to a worker), server on core 0, ` +
    `clients from 127.0.0.2-127.0.0.9 on core 1. Memory is every server process added up (RSS and V8 heap used + external, each after two full collections), ` +
    `read idle with no client, after the raw half, and after the Socket.IO half; the raw half is read against the empty server, the Socket.IO half against ` +
    `the reading after the raw half, so the rooms' own memory is in the raw half's. Open files once all were connected: primary ${r.openFiles.primary}, ` +
    `workers ${r.openFiles.workers.join(', ')}. The clients used ${clientCpu} during the messages.${ceiling}`
  );
}
