import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onCleanup } from './support/cleanup';
import { freshDataDir } from './support/data-dir';
import { waitUntil } from './support/wait';

/**
 * `npm start`, as the README says to run the server, stopped the way `docker stop` stops
 * a container running it: SIGTERM to npm alone. npm passes the signal on only to its
 * direct child, so the server must be that child (no shell left in between), or it
 * outlives npm, orphaned and still holding the port.
 *
 * It runs in a copy of the project (sources and package.json, node_modules linked): the
 * build that `npm start` does first rewrites dist/, which the other test files read while
 * they run.
 */

const ROOT = path.resolve(__dirname, '..');

// The build (tsc, twice) takes from a few seconds to half a minute on a busy machine.
jest.setTimeout(120_000);

function copyProject(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-npm-start-'));
  onCleanup('servers', () => rmSync(dir, { recursive: true, force: true }));
  for (const entry of ['package.json', 'tsconfig.base.json', 'tsconfig.build.json', 'tsconfig.web.json', 'server', 'client']) {
    cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** Whether `pid` is a process that has not exited (a zombie has). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ...": comm may hold spaces and parentheses, so read after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function killIfAlive(pid: number): void {
  try {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Connects once: 'refused' when nothing listens on the port any more. */
function probe(url: string): Promise<'accepted' | 'refused' | string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : String(err.code)));
  });
}

/** The process tree under `pid`, for failure messages. */
function tree(pid: number): string {
  return spawnSync('ps', ['--forest', '-o', 'pid,ppid,stat,args', '-g', String(pid)], { encoding: 'utf8' }).stdout.trim();
}

describe('npm start', () => {
  it('serves, and on SIGTERM to npm alone: npm exits 0, the server exits, the port closes', async () => {
    const dir = copyProject();
    // detached: npm leads its own process group, so `ps -g` shows exactly its tree.
    const npm = spawn('npm', ['start'], {
      cwd: dir,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', DATA_DIR: freshDataDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const npmPid = npm.pid as number;
    const npmExit = once(npm, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
    let npmExited = false;
    void npmExit.then(() => (npmExited = true));
    let stdout = '';
    let stderr = '';
    npm.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    npm.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

    // npm also prints its own banner lines ("> chat-bridge@0.1.0 start"); pino's are JSON.
    const listening = (): { url: string; pid: number } | undefined => {
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string; pid?: number };
        if (entry.msg === 'listening' && entry.url !== undefined && entry.pid !== undefined) return { url: entry.url, pid: entry.pid };
      }
      return undefined;
    };
    let serverPid: number | undefined;
    onCleanup('servers', async () => {
      killIfAlive(npmPid);
      if (serverPid !== undefined) killIfAlive(serverPid);
      await npmExit;
    });

    await waitUntil(() => listening() !== undefined || npmExited, 'npm start to build and log "listening"', 100_000).catch((err: Error) => {
      throw new Error(`${err.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    });
    const started = listening();
    if (started === undefined) throw new Error(`npm start exited before listening\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    const { url } = started;
    serverPid = started.pid;
    const treeWhileRunning = tree(npmPid);
    expect(serverPid).not.toBe(npmPid);

    const response = await fetch(`${url}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('Hello, This is a WebSocket tester!');

    process.kill(npmPid, 'SIGTERM');
    await waitUntil(() => npmExited, 'npm to exit after SIGTERM', 15_000);
    // The server's graceful shutdown with no clients takes milliseconds; allow ten seconds.
    // Not failed here on time-out: on failure the comparison below says which part failed.
    let port = await probe(url);
    await waitUntil(async () => (port = await probe(url)) === 'refused' && !alive(serverPid), 'the server to exit', 10_000).catch(() => undefined);

    // One comparison, so that a failure shows every part at once, then the tree it started from.
    const outcome = { npm: await npmExit, port, serverAlive: alive(serverPid) };
    try {
      expect(outcome).toEqual({ npm: { code: 0, signal: null }, port: 'refused', serverAlive: false });
    } catch (err) {
      (err as Error).message += `\n\nprocess tree while running:\n${treeWhileRunning}`;
      throw err;
    }
  });
});
