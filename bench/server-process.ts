/**
 * Entry point of a server process under test: `server-process.ts <name> [KEY=VALUE ...]`.
 * It starts the named server on an ephemeral loopback port, announces the port and its
 * processes, and answers memory readings. It runs with `--expose-gc`, so a reading is
 * taken after a full collection. For `ours`, each KEY=VALUE overrides one setting of the
 * server's configuration (e.g. `WORKERS=2`, `REDIS_URL=redis://...`).
 */
import { startProcess } from '../server/process/start-process';
import { loadConfig } from '../server/config';
import { createLogger } from '../server/support/logger';
import { startSocketIoEmit } from './baselines/socketio-emit';
import { startSocketIoRooms } from './baselines/socketio-rooms';
import { startWsLoop } from './baselines/ws-loop';
import { startWsRooms } from './baselines/ws-rooms';
import { announce, serveRequests } from './child-link';
import { answerPrimary, collectedMemory, readEachProcess } from './process-readings';
import type { ServerName, ServerReady, ServerRequest } from './ipc';

interface Started {
  port: number;
  pids: () => number[];
  /** A forked worker of WORKERS > 1: its IPC channel is the primary's, not the orchestrator's. */
  isClusterWorker: boolean;
}

const alone = (port: number): Started => ({ port, pids: () => [process.pid], isClusterWorker: false });

const starters: Record<ServerName, (overrides: Record<string, string>) => Promise<Started>> = {
  // Our server as main.ts builds it, with two settings changed to do the baselines' work:
  // logs at `warn` (a line per connection is still prepared and dropped by pino's level
  // check; the baselines print nothing), and flood control off (RATE_LIMIT=0: the closed loop
  // sends far more than 20 messages/s per sender, which the default would refuse).
  // Its store is the default too, SQLite: server-side.ts gives each start a DATA_DIR of
  // its own, a fresh temporary directory (or DATA_DIR=:memory: for the store's "off" side).
  ours: async (overrides) => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT: '0', ...overrides });
    const running = await startProcess(config, createLogger(config.logLevel));
    return { port: running.port, pids: () => running.pids(), isClusterWorker: running.role === 'worker' };
  },
  'ws-loop': async () => alone(await startWsLoop(0)),
  'socketio-emit': async () => alone(await startSocketIoEmit(0)),
  'ws-rooms': async () => alone(await startWsRooms(0)),
  'socketio-rooms': async () => alone(await startSocketIoRooms(0)),
};

function parseOverrides(args: readonly string[]): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const arg of args) {
    const equals = arg.indexOf('=');
    if (equals <= 0) throw new Error(`"${arg}" is not KEY=VALUE`);
    overrides[arg.slice(0, equals)] = arg.slice(equals + 1);
  }
  return overrides;
}

async function main(): Promise<void> {
  const name = process.argv[2] as ServerName;
  const start = starters[name];
  if (start === undefined) throw new Error(`unknown server "${name}"; one of ${Object.keys(starters).join(', ')}`);
  const started = await start(parseOverrides(process.argv.slice(3)));
  if (started.isClusterWorker) {
    answerPrimary();
    return;
  }
  serveRequests<ServerRequest>((request) => {
    if (request.cmd === 'memory') return collectedMemory();
    if (request.cmd === 'each-process') return readEachProcess(request.reading);
    throw new Error(`unknown request ${JSON.stringify(request)}`);
  });
  announce<ServerReady>({ ready: true, port: started.port, pids: started.pids() });
}

main().catch((err: unknown) => {
  process.stderr.write(`server process failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
