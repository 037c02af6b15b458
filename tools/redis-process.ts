import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { unusedPort } from './ports';

/**
 * A throwaway redis-server for the tests and the benchmark. It lives outside test/ and
 * bench/ so that both may import it, and uses no jest, so the benchmark can run it.
 */

/** The program named by the variable `pathVariable` if set, else `name` on PATH, or null. */
export function findProgram(pathVariable: string, name: string): string | null {
  const chosen = process.env[pathVariable];
  if (chosen !== undefined && chosen !== '') return existsSync(chosen) ? chosen : null;
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : null;
}

/** REDIS_SERVER_PATH if set, else redis-server on PATH (Debian's package: /usr/bin), or null. */
export const REDIS_SERVER = findProgram('REDIS_SERVER_PATH', 'redis-server');

export const REDIS_MISSING = 'redis-server is not installed (Debian: apt-get install redis-server; or set REDIS_SERVER_PATH)';

/** Sends one command in the inline protocol and resolves with what `read` finds in the reply, once it finds it. */
function redisRequest<T>(port: number, command: string, read: (reply: string) => T | undefined, timeoutMs = 1_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis on ${port}: no answer to ${command}`));
    }, timeoutMs);
    let reply = '';
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const found = read(reply);
      if (found === undefined) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(found);
    });
    socket.write(`${command}\r\n`);
  });
}

/** Sends one command in the inline protocol and resolves with the first reply line. */
export function redisCommand(port: number, command: string, timeoutMs = 1_000): Promise<string> {
  return redisRequest(port, command, (reply) => (reply.includes('\r\n') ? (reply.split('\r\n')[0] as string) : undefined), timeoutMs);
}

/** The pid of the redis-server answering on `port` (from INFO server). */
function redisPid(port: number): Promise<number> {
  return redisRequest(port, 'INFO server', (reply) => {
    // Up to its line end: a reply read in part may end within the number.
    const pid = /process_id:(\d+)\r\n/.exec(reply)?.[1];
    return pid === undefined ? undefined : Number(pid);
  });
}

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** The running redis-server's pid (null while stopped). */
  readonly pid: number | null;
  /** Kills redis-server (an outage, not a shutdown: SIGKILL saves nothing). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Empties every key. */
  flush(): Promise<string>;
}

export interface RedisOptions {
  /** Runs redis-server through this command, e.g. ['taskset', '-c', '0'] to pin it. */
  prefix?: readonly string[];
}

/**
 * redis-server on a free loopback port (port 0 would turn off TCP in Redis), without
 * persistence. The caller stops it.
 */
export async function startRedisProcess(options: RedisOptions = {}): Promise<RedisProcess> {
  if (REDIS_SERVER === null) throw new Error(REDIS_MISSING);
  const port = await unusedPort();
  let child: ChildProcess | undefined;

  const start = async () => {
    const command = [...(options.prefix ?? []), REDIS_SERVER, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const process = spawn(command[0] as string, command.slice(1), { stdio: 'ignore' });
    child = process;
    const deadline = Date.now() + 5_000;
    for (;;) {
      // Its own process, not another Redis that took the port meanwhile: a test that
      // stops this one must cause an outage.
      const answer = await redisPid(port).then(
        (pid) => ({ pid, error: null }),
        (error: unknown) => ({ pid: null, error }),
      );
      if (answer.pid === process.pid) return;
      if (process.exitCode !== null || Date.now() > deadline) {
        const why = answer.pid === null ? String(answer.error) : `redis-server ${answer.pid} answers there`;
        throw new Error(`redis-server on ${port} did not start: ${why}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid ?? null;
    },
    stop,
    start,
    flush: () => redisCommand(port, 'FLUSHALL'),
  };
}
