import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { clientAddress } from '../access/client-address';
import { isHostAllowed, misdirectedText, type AllowedHosts } from '../access/hosts';
import type { Metrics } from '../support/metrics';
import type { TrustedProxies } from '../trusted-proxies';
import { redactUrl } from '../support/redact';

/**
 * Requests one TCP connection may have unanswered at once. Browsers do not pipeline and
 * Socket.IO's long-polling has at most two requests open per client, so only a client
 * that writes requests without reading the answers gets near it.
 */
export const MAX_REQUESTS_IN_FLIGHT = 16;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpGuardOptions {
  allowedHosts: AllowedHosts;
  /** TRUST_PROXY, for the client address in the logs. */
  trustProxy: TrustedProxies;
  metrics: Metrics;
  logger: Logger;
}

/** One connection's requests, as this guard sees them. */
interface ConnectionState {
  /** Requests read and not yet answered (the waiting ones included). */
  unanswered: number;
  /** Requests read while an earlier one was unanswered, in order. */
  readonly waiting: (() => void)[];
}

/**
 * Puts one 'request' listener in front of every other the server has: call it once all
 * of them are attached (engine.io's attach() wraps the listeners it finds, so after
 * Socket.IO). Every HTTP request, Engine.IO's long-polling included, passes here first.
 *
 * Pipelining: Node's HTTP server does pause a connection whose responses pile up
 * (parserOnIncoming in lib/_http_server.js pauses the socket once `outgoingData` passes
 * the socket's highWaterMark), but only after the parser has executed the whole chunk it
 * was reading: one 64 KiB read holds some 1500 small GETs, and each is handed to the
 * application before the pause takes effect, so each is rendered and its answer queued
 * in memory. `maxRequestsPerSocket` counts requests over the connection's lifetime, not
 * unanswered ones, and answers the excess with 503s that queue in the same way. Here the
 * unanswered requests of each connection are counted, and the connection that goes past
 * MAX_REQUESTS_IN_FLIGHT is destroyed on the spot: the rest of that chunk is dropped
 * unread and nothing more is read from it.
 *
 * Nothing read after an answer that closes the connection is executed: Node would run
 * such a request (pipelined behind it, or on a relayed worker connection that the answer
 * only ends) and never answer it. So a request waits until the ones before it on its
 * connection are answered, as HTTP/1.1 answers them in order anyway, and is dropped with
 * the connection if the server has ended it meanwhile.
 */
export function guardRequests(server: HttpServer, options: HttpGuardOptions): void {
  const { allowedHosts, metrics, logger } = options;
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const connections = new WeakMap<Socket, ConnectionState>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket;
    if (socket.destroyed) return;
    // Node ends its side of the connection once it has sent an answer that closes it.
    if (socket.writableEnded) {
      logger.debug({ ip: clientAddress(req, options), method: req.method, path: redactUrl(req.url) }, 'request after the connection was closed; not executed');
      if (socket.writableFinished) socket.destroy();
      else socket.once('finish', () => socket.destroy());
      return;
    }
    if (!isHostAllowed(req, allowedHosts)) {
      metrics.reject('host');
      logger.info({ host: req.headers.host, path: redactUrl(req.url) }, 'request refused: host');
      const body = `${misdirectedText(req)}\n`;
      res.writeHead(421, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        Connection: 'close',
      });
      res.end(body);
      return;
    }
    for (const listener of listeners) listener.call(server, req, res);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    // The rest of a chunk that was already being parsed when the connection was cut.
    if (socket.destroyed) return;
    let state = connections.get(socket);
    if (state === undefined) {
      state = { unanswered: 0, waiting: [] };
      connections.set(socket, state);
    }
    if (state.unanswered >= MAX_REQUESTS_IN_FLIGHT) {
      logger.info({ ip: clientAddress(req, options), inFlight: state.unanswered }, 'too many pipelined requests unanswered; connection closed');
      socket.destroy();
      return;
    }
    state.unanswered += 1;
    const own = state;
    // 'close' comes once the response is sent or the connection is gone; the next waiting
    // request runs then (Node has already ended the connection if this answer closed it).
    res.once('close', () => {
      own.unanswered -= 1;
      own.waiting.shift()?.();
    });
    if (own.unanswered === 1) handle(req, res);
    else own.waiting.push(() => handle(req, res));
  });
}
