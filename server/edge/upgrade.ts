import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AllowedOrigins } from '../config';
import { isHostAllowed, misdirectedText, type AllowedHosts } from './hosts';
import type { Metrics } from '../support/metrics';
import { isOriginAllowed } from './origin';
import { RAW_PATH, SOCKET_IO_PATH } from '../protocol';
import { rejectUpgrade } from './reject-upgrade';

export interface UpgradeRoutes {
  /** The seed-compatible endpoint. */
  raw(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void;
  /** Socket.IO's engine. */
  socketIo(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void;
}

const ENGINE_PATH = `${SOCKET_IO_PATH}/`;

/**
 * The one 'upgrade' listener of the HTTP server. Each check answers and returns on the
 * spot. Routing by pathname (not by the raw URL) lets `/socket?name=x` through; owning
 * every path means no upgrade hangs waiting for someone else's timeout.
 */
export function createUpgradeRouter(
  routes: UpgradeRoutes,
  allowedOrigins: AllowedOrigins,
  allowedHosts: AllowedHosts,
  metrics: Metrics,
  logger: Logger,
) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A client may reset the connection before any handshake completes; without a
    // listener that error would be thrown and stop the process.
    socket.on('error', (err) => logger.debug({ err: err.message }, 'upgrade socket error'));

    // Before anything else: a name this server does not serve (DNS rebinding) gets no
    // endpoint at all, whatever the path.
    if (!isHostAllowed(req, allowedHosts)) {
      metrics.reject('host');
      logger.info({ host: req.headers.host, path: req.url }, 'upgrade refused: host');
      rejectUpgrade(socket, 421, misdirectedText(req));
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      rejectUpgrade(socket, 400, 'Bad request URL');
      return;
    }
    const route = url.pathname === RAW_PATH ? 'raw' : url.pathname === ENGINE_PATH ? 'socketIo' : null;
    if (route === null) {
      rejectUpgrade(socket, 404, `No WebSocket endpoint at ${url.pathname}; try ${RAW_PATH}`);
      return;
    }
    if (!isOriginAllowed(req, allowedOrigins)) {
      metrics.reject('origin');
      logger.info({ origin: req.headers.origin, path: url.pathname }, 'upgrade refused: origin');
      rejectUpgrade(socket, 403, 'Origin not allowed');
      return;
    }
    if (route === 'raw') routes.raw(req, socket, head, url);
    else routes.socketIo(req, socket, head, url);
  };
}
