import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AllowedOrigins } from '../config';
import { isHostAllowed, misdirectedText, type AllowedHosts } from '../access/hosts';
import type { Metrics } from '../support/metrics';
import { redactUrl } from '../support/redact';
import { isOriginAllowed } from '../access/origin';
import { DEFAULT_ROOM, isRoomName, RAW_PATH, SOCKET_IO_PATH, UpgradeRefusal } from '../protocol';
import { rejectUpgrade } from '../access/reject-upgrade';

export interface UpgradeRoutes {
  /** The seed-compatible endpoint, for `room` (a well-formed name). */
  raw(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, room: string): void;
  /** Socket.IO's engine. */
  socketIo(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void;
}

const ENGINE_PATH = `${SOCKET_IO_PATH}/`;

const INVALID_ROOM = Symbol('invalid room');

/**
 * The room of a raw endpoint path: `/socket` is the lobby, `/socket/<room>` that room
 * (as sent: `%2F`, upper case and the like are malformed, not decoded or folded);
 * null for a path that is not the raw endpoint's.
 */
export function rawRoom(pathname: string): string | typeof INVALID_ROOM | null {
  if (pathname === RAW_PATH) return DEFAULT_ROOM;
  if (!pathname.startsWith(`${RAW_PATH}/`)) return null;
  const room = pathname.slice(RAW_PATH.length + 1);
  return isRoomName(room) ? room : INVALID_ROOM;
}

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
      logger.info({ host: req.headers.host, path: redactUrl(req.url) }, 'upgrade refused: host');
      rejectUpgrade(socket, 421, misdirectedText(req));
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      rejectUpgrade(socket, 400, UpgradeRefusal.BadUrl);
      return;
    }
    const route = url.pathname === ENGINE_PATH ? 'socketIo' : rawRoom(url.pathname);
    if (route === null) {
      rejectUpgrade(socket, 404, UpgradeRefusal.NoEndpoint);
      return;
    }
    if (route === INVALID_ROOM) {
      metrics.reject('invalid');
      rejectUpgrade(socket, 400, UpgradeRefusal.RoomName);
      return;
    }
    if (!isOriginAllowed(req, allowedOrigins)) {
      metrics.reject('origin');
      logger.info({ origin: req.headers.origin, path: url.pathname }, 'upgrade refused: origin');
      rejectUpgrade(socket, 403, UpgradeRefusal.Origin);
      return;
    }
    if (route === 'socketIo') routes.socketIo(req, socket, head, url);
    else routes.raw(req, socket, head, url, route);
  };
}
