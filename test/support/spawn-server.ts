import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { TSX_NODE_FLAGS } from '../../tools/tsx';
import { onCleanup } from './cleanup';
import { freshDataDir } from './data-dir';
import { fromTestEnvironment } from './server';
import { waitUntil } from './wait';

const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'server/main.ts');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedServer {
  readonly child: ChildProcess;
  readonly url: string;
  /** Every stdout line so far (pino's JSON lines). */
  readonly lines: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  readonly exited: Promise<Exit>;
}

export interface RunOptions {
  /**
   * The process's limit on open files (soft and hard, so that Node cannot raise it), set by
   * the shell's `ulimit -n` just before it becomes the server.
   */
  fileLimit?: number;
}

/** Runs the real entry point (server/main.ts) the way `npm start` does, minus the build. */
export function runMain(
  env: Record<string, string>,
  options: RunOptions = {},
): { child: ChildProcess; lines: string[]; stderr: () => string; exited: Promise<Exit> } {
  const node = [process.execPath, ...TSX_NODE_FLAGS, MAIN];
  // `exec`: the shell becomes node, so the child's pid and signals are the server's.
  const [command, ...args] =
    options.fileLimit === undefined ? node : ['/bin/sh', '-c', `ulimit -n ${options.fileLimit} && exec "$@"`, 'sh', ...node];
  const child = spawn(command as string, args, {
    cwd: ROOT,
    // A DATA_DIR of its own unless the test names one (a test that restarts a server
    // passes the same one again). Clients end at once on SIGTERM unless the test drains.
    env: { PATH: process.env.PATH ?? '', DATA_DIR: env.DATA_DIR ?? freshDataDir(), DRAIN_MS: '0', ...fromTestEnvironment(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stdoutRest = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (stdoutRest + chunk).split('\n');
    stdoutRest = parts.pop() ?? '';
    lines.push(...parts);
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }) as Exit);
  onCleanup('servers', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  return { child, lines, stderr: () => stderr, exited };
}

/**
 * Starts the entry point on an ephemeral port and resolves once it is listening.
 * `startTimeoutMs`: more for several processes at once (each compiles with tsx).
 */
export async function spawnServer(env: Record<string, string> = {}, startTimeoutMs = 15_000, options: RunOptions = {}): Promise<SpawnedServer> {
  const run = runMain({ PORT: '0', HOST: '127.0.0.1', ...env }, options);
  const listeningAt = () => {
    for (const line of run.lines) {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'listening' && entry.url !== undefined) return entry.url;
    }
    return undefined;
  };
  await waitUntil(() => listeningAt() !== undefined || run.child.exitCode !== null, 'the server to log "listening"', startTimeoutMs).catch(() => undefined);
  const url = listeningAt();
  if (url === undefined) throw new Error(`server did not start; stderr: ${run.stderr()}`);
  return { child: run.child, url, lines: run.lines, stderr: run.stderr, exited: run.exited };
}
