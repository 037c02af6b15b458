import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { unusedPort } from '../../tools/ports';
import { onCleanup } from './cleanup';
import { describeNeedingTool } from './needs-tool';
import { within } from './wait';

/**
 * Debian's nginx in front of test nodes, run from the documented configuration
 * (docs/deploy/nginx.conf) with only its upstream servers and its listen port replaced,
 * so that a test exercises what the docs tell people to install.
 */

const DOCUMENTED_CONFIG = path.resolve(__dirname, '../../docs/deploy/nginx.conf');

/** NGINX_PATH if set, else nginx on PATH, else Debian's /usr/sbin/nginx (not on a user's PATH), or null. */
function findNginx(): string | null {
  const chosen = process.env.NGINX_PATH;
  if (chosen !== undefined && chosen !== '') return existsSync(chosen) ? chosen : null;
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const onPath = found.stdout.trim();
  if (found.status === 0 && onPath !== '') return onPath;
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null;
}

export const NGINX = findNginx();

export const NGINX_MISSING = 'nginx is not installed (Debian: apt-get install nginx; or set NGINX_PATH)';

/**
 * `describe` for tests that need nginx. Without it they are skipped with a warning,
 * unless REQUIRE_NGINX=1 (set by .ci/run): then they fail.
 */
export function describeWithNginx(name: string, body: () => void): void {
  describeNeedingTool(name, { found: NGINX, label: 'nginx', missing: NGINX_MISSING, requiredBy: 'REQUIRE_NGINX' }, body);
}

/**
 * The documented configuration with its upstream's servers replaced by `upstreamPorts` on
 * 127.0.0.1 (each with the first documented server's parameters) and its `listen` by
 * `listenPort` on 127.0.0.1. Throws if the file no longer has the shape this relies on.
 */
function fromDocumentedConfig(documented: string, listenPort: number, upstreamPorts: readonly number[]): string {
  const upstream = /(upstream\s+\w+\s*\{)([^}]*)\}/.exec(documented);
  if (upstream === null) throw new Error(`${DOCUMENTED_CONFIG}: no upstream block`);
  const lines = (upstream[2] as string).split('\n');
  const serverLine = /^([ \t]*)server[ \t]+[^\s;]+([^;]*);[ \t]*$/;
  const at = lines.findIndex((line) => serverLine.test(line));
  if (at === -1) throw new Error(`${DOCUMENTED_CONFIG}: no server in the upstream block`);
  const [, indent = '', parameters = ''] = serverLine.exec(lines[at] as string) ?? [];
  const servers = upstreamPorts.map((port) => `${indent}server 127.0.0.1:${port}${parameters};`);
  const withServers = [...lines.slice(0, at), ...servers, ...lines.slice(at).filter((line) => !serverLine.test(line))].join('\n');
  let config = documented.replace(upstream[0], () => `${upstream[1]}${withServers}}`);

  const listens = config.match(/^[ \t]*listen[ \t]+[^;\n]+;/gm) ?? [];
  if (listens.length !== 1) throw new Error(`${DOCUMENTED_CONFIG}: expected one listen line, found ${listens.length}`);
  config = config.replace(/^([ \t]*)listen[ \t]+[^;\n]+;/m, `$1listen 127.0.0.1:${listenPort};`);
  return config;
}

/**
 * The whole nginx.conf: the documented file inside `http`, as Debian's nginx.conf
 * includes a site, with everything nginx writes (pid, logs, temporary files) in `dir`.
 */
function wholeConfig(site: string, dir: string): string {
  const temp = (name: string) => path.join(dir, name);
  return [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${temp('nginx.pid')};`,
    `error_log ${temp('error.log')} warn;`,
    // Workers run as the test's user: as root, nginx would switch them to `nobody`.
    ...(process.getuid?.() === 0 ? [`user ${userInfo().username};`] : []),
    'events { worker_connections 1024; }',
    'http {',
    '    access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${temp(kind)};`),
    site,
    '}',
    '',
  ].join('\n');
}

export interface NginxProcess {
  readonly port: number;
  /** http://127.0.0.1:<port>: where clients connect. */
  readonly url: string;
  /** Everything nginx logged at `warn` and above so far. */
  errorLog(): string;
  /** Stops nginx at once (SIGTERM: its fast shutdown, connections cut). */
  stop(): Promise<void>;
}

/** How many free ports are tried: another process may take one between the probe and nginx's bind. */
const BIND_ATTEMPTS = 5;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * nginx in the foreground from the documented configuration, in front of the nodes on
 * `upstreamPorts` (127.0.0.1), on a free port. Resolves once it answers HTTP; stopped
 * after the test or file that started it.
 */
export async function startNginx(upstreamPorts: readonly number[]): Promise<NginxProcess> {
  if (NGINX === null) throw new Error(NGINX_MISSING);
  const documented = readFileSync(DOCUMENTED_CONFIG, 'utf8');
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-nginx-'));
  onCleanup('files', () => rmSync(dir, { recursive: true, force: true }));
  const errorLogPath = path.join(dir, 'error.log');
  const errorLog = () => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '');

  for (let attempt = 1; ; attempt += 1) {
    // nginx cannot listen on port 0: a port the OS just handed out, then let go.
    const port = await unusedPort();
    const configPath = path.join(dir, 'nginx.conf');
    rmSync(errorLogPath, { force: true });
    writeFileSync(configPath, wholeConfig(fromDocumentedConfig(documented, port, upstreamPorts), dir));
    // Its own process group, so that its workers can be ended with it if it hangs.
    const child = spawn(NGINX, ['-p', dir, '-c', configPath, '-e', errorLogPath], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(child, 'exit');
    const stop = () => stopNginx(child, exited);
    onCleanup('servers', stop);

    const started = await answering(child, port, path.join(dir, 'nginx.pid'));
    if (started) return { port, url: `http://127.0.0.1:${port}`, errorLog, stop };
    await stop();
    const why = `${stderr}${errorLog()}`.trim();
    if (!/Address already in use/.test(why) || attempt === BIND_ATTEMPTS) throw new Error(`nginx did not start on ${port}: ${why}`);
  }
}

/**
 * Waits until the nginx `child` has bound its port (it writes its pid file after that, so
 * an answer then is its own, not another server's on a port taken meanwhile) and answers
 * an HTTP request there; false if it exits first.
 */
async function answering(child: ChildProcess, port: number, pidFile: string): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : null;
    if (pid === child.pid) {
      const answered = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
        async (res) => {
          await res.arrayBuffer();
          return true;
        },
        () => false,
      );
      if (answered) return true;
    }
    if (Date.now() > deadline) throw new Error(`nginx on ${port} did not answer within ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** SIGTERM (nginx's fast shutdown), then its whole process group killed if it has not exited in time. */
async function stopNginx(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  await within(exited, 'nginx to exit', STOP_TIMEOUT_MS).catch(() => {
    process.kill(-(child.pid as number), 'SIGKILL');
    return exited;
  });
}
