import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unusedPort } from './ports';
import { findProgram, REDIS_MISSING, REDIS_SERVER, type RedisOptions } from './redis-process';

/**
 * A throwaway Redis Cluster of three masters and no replicas, for the tests and the
 * benchmark: like redis-process.ts, outside test/ and bench/ and without jest.
 */

/** REDIS_CLI_PATH if set, else redis-cli on PATH (Debian's redis-tools: /usr/bin), or null. */
export const REDIS_CLI = findProgram('REDIS_CLI_PATH', 'redis-cli');

export const REDIS_CLI_MISSING = 'redis-cli is not installed (Debian: apt-get install redis-tools; or set REDIS_CLI_PATH)';

const NODES = 3;
const SLOTS = 16_384;

/** What redis-cli printed (stdout then stderr), or why it could not run. */
function redisCli(args: readonly string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(REDIS_CLI as string, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stdout}${stderr}`.trim() || String(error ?? '') });
    });
  });
}

/** One command to the node on `port`, its reply as redis-cli prints it, or null when it does not answer. */
async function ask(port: number, ...command: string[]): Promise<string | null> {
  const reply = await redisCli(['-h', '127.0.0.1', '-p', String(port), ...command], 1_000);
  return reply.ok ? reply.output : null;
}

/** A field of an INFO-style reply (`name:value` lines), or undefined. */
const field = (reply: string | null, name: string): string | undefined => new RegExp(`^${name}:(\\S*)`, 'm').exec(reply ?? '')?.[1];

/** Polls `check` every 50 ms until it returns null (done), failing with its last complaint after `timeoutMs` (or at once if it throws). */
async function settle(check: () => Promise<string | null>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const complaint = await check();
    if (complaint === null) return;
    if (Date.now() > deadline) throw new Error(`${complaint} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `count` distinct free loopback ports (unusedPort lets each go, so the OS may hand one out twice). */
async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await unusedPort());
  return [...ports];
}

export interface RedisClusterProcess {
  readonly ports: readonly number[];
  readonly urls: readonly string[];
  /** The first node's URL: enough for a cluster client to find the rest. */
  readonly url: string;
  /** Each node's redis-server pid, in the order of `ports` (null while it is stopped). */
  readonly pids: readonly (number | null)[];
  /** Kills node `i` (SIGKILL: an outage). Its slots stay its own; the others mark it failed after the node timeout. */
  killNode(i: number): Promise<void>;
  /** Starts node `i` again, empty but with its identity and slots (nodes.conf), and waits for the cluster to be ok. */
  startNode(i: number): Promise<void>;
  /**
   * Moves `slot` to node `to` as `redis-cli --cluster reshard` moves each slot: `to`
   * imports it, its owner migrates it, its keys go over with MIGRATE, `keysPerMigrate` at
   * a time (redis-cli: 10), then every node is told its new owner. Meanwhile a command of
   * several of its keys may be answered TRYAGAIN (some moved, some not). Nothing when `to`
   * owns it already.
   */
  moveSlot(slot: number, to: number, keysPerMigrate?: number): Promise<void>;
  /** Kills every node and removes their directories. */
  stop(): Promise<void>;
}

interface Node {
  readonly port: number;
  readonly dir: string;
  readonly args: readonly string[];
  child?: ChildProcess;
}

/**
 * Three redis-server processes on free loopback ports, joined by `redis-cli --cluster
 * create`, without persistence; resolves once every node sees all slots served. The
 * caller stops it. If any step fails, what was started is stopped and the error says which.
 */
export async function startRedisClusterProcess(options: RedisOptions = {}): Promise<RedisClusterProcess> {
  const server = REDIS_SERVER;
  if (server === null) throw new Error(REDIS_MISSING);
  if (REDIS_CLI === null) throw new Error(REDIS_CLI_MISSING);
  // Each node needs a second port for the cluster bus: Redis's default, port + 10000, is
  // past 65535 for much of the OS's range of free ports, so it is chosen as well.
  const ports = await distinctPorts(NODES * 2);
  const nodes: Node[] = [];
  const addNode = async (i: number) => {
    const port = ports[i] as number;
    const dir = await mkdtemp(join(tmpdir(), `redis-cluster-${port}-`));
    const args = [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000'],
      ...['--cluster-port', String(ports[NODES + i]), '--logfile', join(dir, 'redis.log')],
    ];
    nodes.push({ port, dir, args });
  };

  const kill = async (node: Node) => {
    const running = node.child;
    node.child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };
  const stop = async () => {
    await Promise.all(nodes.map(kill));
    await Promise.all(nodes.map((node) => rm(node.dir, { recursive: true, force: true })));
  };
  const log = async (node: Node) => (await readFile(join(node.dir, 'redis.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n');

  const spawnNode = async (node: Node) => {
    const command = [...(options.prefix ?? []), server, ...node.args];
    const child = spawn(command[0] as string, command.slice(1), { stdio: 'ignore' });
    node.child = child;
    // Its own process, not another Redis that took the port meanwhile (as redis-process.ts checks).
    await settle(async () => {
      // Exited: no use waiting (thrown, this ends settle at once).
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`redis-server on ${node.port} exited (${child.exitCode ?? child.signalCode}): ${await log(node)}`);
      }
      const pid = field(await ask(node.port, 'INFO', 'server'), 'process_id');
      if (pid === undefined) return `redis-server on ${node.port} does not answer`;
      return Number(pid) === child.pid ? null : `redis-server ${pid}, not ${child.pid}, answers on ${node.port}`;
    }, 5_000);
  };
  /** Whether every node, as each sees it, has all slots covered by three known masters. */
  const clusterOk = () =>
    settle(async () => {
      for (const node of nodes) {
        const info = await ask(node.port, 'CLUSTER', 'INFO');
        const state = { state: field(info, 'cluster_state'), slots: field(info, 'cluster_slots_ok'), masters: field(info, 'cluster_size') };
        if (state.state !== 'ok' || state.slots !== String(SLOTS) || state.masters !== String(NODES)) {
          return `the cluster is not ok on ${node.port}: ${info === null ? 'no answer' : JSON.stringify(state)}`;
        }
      }
      return null;
    }, 20_000);

  try {
    for (let i = 0; i < NODES; i++) await addNode(i);
    await Promise.all(nodes.map(spawnNode));
    const created = await redisCli(
      ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      30_000,
    );
    if (!created.ok) throw new Error(`redis-cli --cluster create failed:\n${created.output}`);
    await clusterOk();
  } catch (error) {
    await stop();
    throw new Error(`redis cluster on ${ports.slice(0, NODES).join(', ')} did not start: ${(error as Error).message}`);
  }

  const nodeAt = (i: number) => {
    const node = nodes[i];
    if (node === undefined) throw new Error(`no node ${i}: the cluster has ${NODES}`);
    return node;
  };
  const urls = nodes.map((node) => `redis://127.0.0.1:${node.port}`);
  return {
    ports: nodes.map((node) => node.port),
    urls,
    url: urls[0] as string,
    get pids() {
      return nodes.map((node) => node.child?.pid ?? null);
    },
    killNode: (i) => kill(nodeAt(i)),
    moveSlot: async (slot, to, keysPerMigrate = 10) => {
      const must = async (port: number, ...command: string[]) => {
        const reply = await ask(port, ...command);
        if (reply === null || reply.startsWith('ERR')) throw new Error(`${command.join(' ')} on ${port}: ${reply ?? 'no answer'}`);
        return reply;
      };
      const ids = await Promise.all(nodes.map((node) => must(node.port, 'CLUSTER', 'MYID')));
      // `<id> <address> <flags> ... <slot ranges>`, one line per node.
      const owner = (await must(nodeAt(0).port, 'CLUSTER', 'NODES')).split('\n').find((line) =>
        line
          .split(' ')
          .slice(8)
          .some((range) => {
            const [first, last = first] = range.split('-').map(Number);
            return (first as number) <= slot && slot <= (last as number);
          }),
      );
      const from = ids.indexOf(owner?.split(' ')[0] ?? '');
      if (from === -1) throw new Error(`no node owns slot ${slot}`);
      if (from === to) return;
      const source = nodeAt(from);
      const target = nodeAt(to);
      await must(target.port, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ids[from] as string);
      await must(source.port, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', ids[to] as string);
      for (;;) {
        const keys = (await must(source.port, 'CLUSTER', 'GETKEYSINSLOT', String(slot), String(keysPerMigrate))).split('\n').filter(Boolean);
        if (keys.length === 0) break;
        await must(source.port, 'MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...keys);
      }
      for (const node of [target, source, ...nodes.filter((n) => n !== target && n !== source)]) {
        await must(node.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', ids[to] as string);
      }
    },
    startNode: async (i) => {
      await spawnNode(nodeAt(i));
      await clusterOk();
    },
    stop,
  };
}
