/**
 * Entry point of the benchmark's backend: what a server's WEBHOOK_URL and PUBLISH_HOOK_URL
 * point at in the hook trials (bench/hooks-plan.ts). It answers at once: a webhook batch
 * (POST /webhooks) 204, a publish hook question (POST /publish) `{"action":"allow"}`. It
 * checks no signature (the tests and the soak do): the trials measure the server, so the
 * backend does as little as an answer needs. It counts what came, for the trial's log.
 */
import http from 'node:http';
import { announce, serveRequests } from './child-link';
import type { BackendReady, BackendRequest, BackendTally } from './ipc';

const ALLOW = '{"action":"allow"}';
const tally: BackendTally = { batches: 0, events: 0, questions: 0 };

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.url === '/publish') {
      tally.questions += 1;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': ALLOW.length }).end(ALLOW);
      return;
    }
    res.writeHead(204).end();
    tally.batches += 1;
    tally.events += (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: unknown[] }).events.length;
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  serveRequests<BackendRequest>((request) => {
    if (request.cmd === 'tally') return tally;
    throw new Error(`unknown request ${JSON.stringify(request)}`);
  });
  announce<BackendReady>({ port: (server.address() as { port: number }).port });
});
