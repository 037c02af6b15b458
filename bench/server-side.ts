import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisClusterProcess } from '../tools/redis-cluster-process';
import { startRedisProcess } from '../tools/redis-process';
import { ChildLink, hasTaskset, spawnBenchProcess } from './child-link';
import type { BackendReady, BackendRequest, BackendTally, ServerReady, ServerRequest, ServerSetup } from './ipc';
import { newWebhookSecret } from './webhook-receiver-process';

/** Every process of the server side shares core 0; the clients get core 1 (fleet.ts). */
export const SERVER_CPU = 0;
/** The client workers and the orchestrator share core 1. */
export const CLIENT_CPU = 1;
/**
 * The hook backend stands for another machine: it shares the clients' core, so that core
 * 0 and the server's CPU figures are the server's alone.
 */
const BACKEND_CPU = CLIENT_CPU;
const EXIT_POLL_MS = 20;

export interface ServerSide {
  readonly setup: ServerSetup;
  /** More than one process holds the clients (see runRoomTrial on what that changes). */
  readonly isCluster: boolean;
  /** Where clients connect, one URL per node; client groups take them in turn. */
  readonly urls: string[];
  /** The first (in a single-process setup, the only) server process; it reads its memory. */
  readonly main: ChildLink<ServerRequest, ServerReady>;
  /** Every process doing the server side's work: nodes, their workers, redis-servers. */
  readonly pids: number[];
  /** Each node's processes (the node and its workers), in the order of `urls`. */
  readonly nodePids: number[][];
  /** Each redis-server's process: one, a Redis Cluster's three (its masters), or none. */
  readonly redisPids: number[];
  /** SIGKILL everything: a dying server sends no leave notices to clients nobody reads. */
  stop(): Promise<void>;
}

/** The ban file `ours-bans` starts with (bans-plan.ts makes it); null until one is given. */
let banFile: string | null = null;

/** `ours-bans` is ours with a copy of this moderation.sqlite in its DATA_DIR. */
export function useBanFile(file: string): void {
  banFile = file;
}

/** The settings `ours-c100k` starts with (c100k-plan.ts gives them, WORKERS among them); null until given. */
let c100kSettings: string[] | null = null;

export function useC100kSettings(settings: readonly string[]): void {
  c100kSettings = [...settings];
}

/** The checkout `ours-other` runs (`--against`); null until one is given. */
let otherCheckout: string | null = null;

/** `ours-other` is our server as the checkout at `root` has it (its own bench/server-process.ts and node_modules). */
export function useOtherCheckout(root: string): void {
  otherCheckout = root;
}

function startNode(label: string, args: string[], root?: string): ChildLink<ServerRequest, ServerReady> {
  return new ChildLink<ServerRequest, ServerReady>(
    label,
    spawnBenchProcess('server-process.ts', { cpu: SERVER_CPU, nodeFlags: ['--expose-gc'], args, ...(root === undefined ? {} : { root }) }),
  );
}

/** The Redis a setup's nodes share: one redis-server, or a Redis Cluster of three masters. */
interface SharedRedis {
  /** What the nodes get as REDIS_URL (a cluster's first node: they find the others). */
  url: string;
  pids: number[];
  stop(): Promise<void>;
}

/** Pinned to the server's core, as the nodes are (see startServerSide). */
async function startRedisOf(setup: ServerSetup): Promise<SharedRedis | null> {
  const prefix = hasTaskset ? ['taskset', '-c', String(SERVER_CPU)] : [];
  if (setup === 'ours-redis-2') {
    const redis = await startRedisProcess({ prefix });
    return { url: redis.url, pids: redis.pid === null ? [] : [redis.pid], stop: () => redis.stop() };
  }
  if (setup === 'ours-redis-cluster-2') {
    const cluster = await startRedisClusterProcess({ prefix });
    // taskset execs redis-server in place: each pid is the redis-server's (the cluster checks it).
    return { url: cluster.url, pids: cluster.pids.filter((pid) => pid !== null), stop: () => cluster.stop() };
  }
  return null;
}

/**
 * The node processes of a setup, given the Redis they share (if the setup has one) and
 * the fresh DATA_DIR of this start. Ours keeps its default store, SQLite, in that
 * directory (never the repository's `data/`, and nothing left from an earlier trial);
 * `ours-memory` is the same server with DATA_DIR=:memory:. On Redis the nodes store
 * their history there, and DATA_DIR is given only so that nothing could land in `data/`.
 */
function nodesOf(setup: ServerSetup, redis: SharedRedis | null, dataDir: string, backend: HookBackend | null): ChildLink<ServerRequest, ServerReady>[] {
  switch (setup) {
    case 'ours-redis-2':
    case 'ours-redis-cluster-2': {
      const onCluster = setup === 'ours-redis-cluster-2';
      return ['A', 'B'].map((node) =>
        startNode(`server ours, node ${node}${onCluster ? ' on a Redis Cluster' : ''}`, [
          'ours',
          `REDIS_URL=${(redis as SharedRedis).url}`,
          ...(onCluster ? ['REDIS_CLUSTER=1'] : []),
          `DATA_DIR=${path.join(dataDir, node)}`,
        ]),
      );
    }
    case 'ours-workers-2':
      // One process owns the port and forks two; @socket.io/sticky hands each
      // connection to the worker with fewer clients, the cluster adapter joins them
      // (and both write to the one SQLite file in DATA_DIR).
      return [startNode('server ours, WORKERS=2', ['ours', 'WORKERS=2', `DATA_DIR=${dataDir}`])];
    case 'ours':
      return [startNode('server ours', ['ours', `DATA_DIR=${dataDir}`])];
    case 'ours-plain-sio':
      return [startNode('server ours, SOCKETIO_FAST_PATH=off', ['ours', 'SOCKETIO_FAST_PATH=off', `DATA_DIR=${dataDir}`])];
    case 'ours-other':
      if (otherCheckout === null) throw new Error('ours-other needs a checkout (--against DIR)');
      return [startNode(`server ours at ${otherCheckout}`, ['ours', `DATA_DIR=${dataDir}`], otherCheckout)];
    case 'ours-bans':
      if (banFile === null) throw new Error('ours-bans needs a ban file (useBanFile)');
      copyFileSync(banFile, path.join(dataDir, path.basename(banFile)));
      return [startNode('server ours, with bans', ['ours', `DATA_DIR=${dataDir}`])];
    case 'ours-c100k':
      if (c100kSettings === null) throw new Error('ours-c100k needs its settings (useC100kSettings)');
      return [startNode(`server ours, ${c100kSettings.join(' ')}`, ['ours', ...c100kSettings, `DATA_DIR=${dataDir}`])];
    case 'ours-memory':
      return [startNode('server ours, DATA_DIR=:memory:', ['ours', 'DATA_DIR=:memory:'])];
    case 'ours-webhooks':
    case 'ours-publish-hook':
      if (backend === null) throw new Error(`${setup} needs its hook backend`);
      return [startNode(`server ours, ${backend.name} set`, ['ours', ...backend.settings, `DATA_DIR=${dataDir}`])];
    default:
      return [startNode(`server ${setup}`, [setup])];
  }
}

/**
 * Starts the server side of a trial, pinned to its core: one server process, or ours
 * deployed on several (two nodes and the redis-server between them, or the three of a
 * Redis Cluster, also pinned here, so that a cluster gets the same one core as a single process and the comparison
 * shows what spreading the room costs, not what a second core buys).
 */
export async function startServerSide(setup: ServerSetup, timeoutMs: number): Promise<ServerSide> {
  const redis = await startRedisOf(setup);
  // Under TMPDIR (os.tmpdir()): that is the file system the store rows measure.
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'chat-bridge-bench-data-'));
  let backend: HookBackend | null = null;
  let nodes: ChildLink<ServerRequest, ServerReady>[] = [];
  const forked: number[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    await killAll(forked);
    await redis?.stop();
    await backend?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    backend = await startHookBackend(setup, timeoutMs);
    nodes = nodesOf(setup, redis, dataDir, backend);
    const ready = await Promise.all(nodes.map((node) => node.ready(timeoutMs)));
    for (const announced of ready) forked.push(...announced.pids.slice(1));
    const redisPids = redis?.pids ?? [];
    return {
      setup,
      isCluster: redis !== null || setup === 'ours-workers-2' || setup === 'ours-c100k',
      urls: ready.map((node) => `http://127.0.0.1:${node.port}`),
      main: nodes[0] as ChildLink<ServerRequest, ServerReady>,
      pids: [...ready.flatMap((node) => node.pids), ...redisPids],
      nodePids: ready.map((node) => node.pids),
      redisPids,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The backend of `ours-webhooks` and `ours-publish-hook`, and the settings that point the server at it. */
interface HookBackend {
  /** The setting it stands behind, for the labels. */
  name: 'WEBHOOK_URL' | 'PUBLISH_HOOK_URL';
  settings: string[];
  /** Logs what it was sent (on stderr, with the trial's progress), then SIGKILLs it. */
  stop(): Promise<void>;
}

async function startHookBackend(setup: ServerSetup, timeoutMs: number): Promise<HookBackend | null> {
  if (setup !== 'ours-webhooks' && setup !== 'ours-publish-hook') return null;
  const link = new ChildLink<BackendRequest, BackendReady>('hook backend', spawnBenchProcess('hook-backend.ts', { cpu: BACKEND_CPU }));
  const stop = async () => {
    const tally = await link.request<BackendTally>({ cmd: 'tally' }).catch(() => null);
    if (tally !== null) process.stderr.write(`  ${setup}, its hook backend got ${tally.events} webhook events in ${tally.batches} batches, ${tally.questions} publish hook questions\n`);
    await link.kill();
  };
  try {
    const { port } = await link.ready(timeoutMs);
    const name = setup === 'ours-webhooks' ? 'WEBHOOK_URL' : 'PUBLISH_HOOK_URL';
    const url = `http://127.0.0.1:${port}/${setup === 'ours-webhooks' ? 'webhooks' : 'publish'}`;
    return { name, settings: [`${name}=${url}`, `WEBHOOK_SECRET=${newWebhookSecret()}`], stop };
  } catch (err) {
    await link.kill();
    throw err;
  }
}

/**
 * SIGKILLs processes that are not our children (a primary's workers) and waits until
 * each is gone, so that the next trial starts on a quiet core.
 */
async function killAll(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone: a worker exits by itself when its primary dies.
    }
  }
  while (pids.some(isRunning)) await sleep(EXIT_POLL_MS);
}

/** True while `pid` exists and is not a zombie waiting for its parent to reap it. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
