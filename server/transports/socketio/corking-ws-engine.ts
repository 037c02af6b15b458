import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import type { FastFrames } from './fast-path';
import { TurnCork } from './turn-cork';

/** Told of each error `ws` reports on a connection: what the peer sent broke a rule (err.code). */
export type WsClientErrorHandler = (err: Error & { code?: string }, request: IncomingMessage) => void;

/**
 * A `ws` server for engine.io's `wsEngine` option whose connections write once per
 * event-loop turn (see TurnCork).
 *
 * Why here: `io.emit` already encodes a broadcast once and frames it once for every
 * WebSocket (socket.io-adapter's `wsPreEncodedFrame`), but engine.io then writes each
 * packet to each socket with its own `socket.write`, so N clients cost N system calls
 * per message. engine.io builds its WebSocket server from this option and hands it the
 * raw socket of every upgrade that passed its checks, so the socket is known here, once
 * the handshake has been answered (the 101 and any refusal go out unchanged).
 * Long-polling clients never come through here: their packets leave in HTTP responses,
 * as before. `io.emit` stays the broadcast API, so adapters behind it keep working.
 */
export function corkingWsEngine(
  cork: TurnCork = new TurnCork(),
  onClientError?: WsClientErrorHandler,
  fastFrames?: FastFrames,
): new (options: ServerOptions) => WebSocketServer {
  return class CorkingWebSocketServer extends WebSocketServer {
    override handleUpgrade(
      request: IncomingMessage,
      socket: Duplex,
      upgradeHead: Buffer,
      callback: (client: WebSocket, request: IncomingMessage) => void,
    ): void {
      super.handleUpgrade(request, socket, upgradeHead, (client, req) => {
        // The fast path's frames for this socket are written before anything of ws's
        // (attached first: it keeps the socket's own write, TurnCork then wraps it).
        const fast = fastFrames?.attach(socket);
        cork.attach(socket, fast === undefined ? undefined : () => fastFrames?.writeQueued(fast));
        // engine.io turns ws's error into a bare "transport error" and drops err.code
        // (which says, e.g., that a frame was over maxPayload): it is read here instead.
        if (onClientError !== undefined) client.on('error', (err: Error & { code?: string }) => onClientError(err, req));
        callback(client, req);
      });
    }
  };
}
