/**
 * Entry point of a server process under test: `server-process.ts <name>`. It starts the
 * named server on an ephemeral loopback port, announces the port, and answers memory
 * readings. It runs with `--expose-gc`, so a reading is taken after a full collection.
 */
import { loadConfig } from '../server/config';
import { startServer } from '../server/server';
import { startSocketIoEmit } from './baselines/socketio-emit';
import { startWsLoop } from './baselines/ws-loop';
import { announce, serveRequests } from './child-link';
import type { MemoryReading, ServerName, ServerReady, ServerRequest } from './ipc';

const starters: Record<ServerName, () => Promise<number>> = {
  // Our server as main.ts builds it, with two settings changed to do the baselines' work:
  // logs at `warn` (the per-connection loggers are still made, but nothing is printed, as
  // the baselines print nothing), and flood control off (RATE_LIMIT=0: the closed loop
  // sends far more than 20 messages/s per sender, which the default would refuse).
  ours: async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT: '0' });
    return (await startServer(config)).port;
  },
  'ws-loop': () => startWsLoop(0),
  'socketio-emit': () => startSocketIoEmit(0),
};

function readMemory(): MemoryReading {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('server process needs --expose-gc');
  // Twice: the first collection may leave weakly held objects for the second.
  gc();
  gc();
  const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
  return { rss, heapTotal, heapUsed, external };
}

async function main(): Promise<void> {
  const name = process.argv[2] as ServerName;
  const start = starters[name];
  if (start === undefined) throw new Error(`unknown server "${name}"; one of ${Object.keys(starters).join(', ')}`);
  const port = await start();
  serveRequests<ServerRequest>((request) => {
    if (request.cmd === 'memory') return readMemory();
    throw new Error(`unknown request ${JSON.stringify(request)}`);
  });
  announce<ServerReady>({ ready: true, port, pid: process.pid });
}

main().catch((err: unknown) => {
  process.stderr.write(`server process failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
