import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { withDeadline } from '../deadline';
import type { Hub, Transport } from '../hub';
import { displayName } from '../names';
import { CloseCode, type ChatMessage, type Notice, type RawJsonFrame } from '../protocol';
import { rejectUpgrade } from '../reject-upgrade';
import { BroadcastGroup, type GroupMember } from './broadcast-group';

/** `text`: the seed's plain strings. `json`: one JSON object per frame. */
export type RawFormat = 'text' | 'json';

export interface RawTransportOptions {
  hub: Hub;
  maxMessageBytes: number;
  logger: Logger;
}

interface RawClient {
  readonly name: string;
  readonly format: RawFormat;
  readonly ws: WebSocket;
  readonly member: GroupMember;
}

/**
 * The seed-compatible endpoint: plain WebSocket, text frames, every frame broadcast
 * verbatim to everyone (sender included), the seed's join and leave strings.
 */
export class RawTransport implements Transport {
  private readonly wss: WebSocketServer;
  private readonly hub: Hub;
  private readonly logger: Logger;
  private readonly groups: Record<RawFormat, BroadcastGroup> = {
    text: new BroadcastGroup(),
    json: new BroadcastGroup(),
  };
  private readonly clients = new Set<RawClient>();

  constructor(options: RawTransportOptions) {
    this.hub = options.hub;
    this.logger = options.logger;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      // ws would otherwise accept frames of up to 100 MiB; a larger one is closed with 1009.
      maxPayload: options.maxMessageBytes,
      // Off so that a broadcast is framed once for all clients (see BroadcastGroup).
      perMessageDeflate: false,
    });
  }

  get size(): number {
    return this.clients.size;
  }

  /** Completes the handshake of an upgrade the router sent here (its origin already passed). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const format = url.searchParams.get('format') ?? 'text';
    if (format !== 'text' && format !== 'json') {
      rejectUpgrade(socket, 400, 'format must be "text" or "json"');
      return;
    }
    const name = displayName(url.searchParams.get('name') ?? undefined);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket, name, format, req));
  }

  deliverChat(message: ChatMessage): void {
    this.groups.text.publish(message.text);
    if (this.groups.json.size > 0) {
      const frame: RawJsonFrame = { type: 'chat', ...message };
      this.groups.json.publish(JSON.stringify(frame));
    }
  }

  deliverNotice(notice: Notice): void {
    this.groups.text.publish(notice.text);
    if (this.groups.json.size > 0) {
      const frame: RawJsonFrame = { type: 'notice', ...notice };
      this.groups.json.publish(JSON.stringify(frame));
    }
  }

  /**
   * Shutdown: sends what is pending, then closes every client with 1001 (going away).
   * Resolves when all have closed, or after `graceMs`, when the rest are cut.
   */
  async close(graceMs: number): Promise<void> {
    this.flush();
    const closed = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.ws.once('close', () => resolve());
          client.ws.close(CloseCode.GoingAway, 'Server shutting down');
        }),
    );
    await withDeadline(Promise.all(closed), graceMs);
    for (const client of this.clients) client.ws.terminate();
  }

  private flush(): void {
    this.groups.text.flush();
    this.groups.json.flush();
  }

  private accept(ws: WebSocket, socket: Duplex, name: string, format: RawFormat, req: IncomingMessage): void {
    const member = this.groups[format].add(ws, socket);
    const client: RawClient = { name, format, ws, member };
    this.clients.add(client);
    const log = this.logger.child({ transport: 'raw', name, format });
    log.info({ ip: req.socket.remoteAddress }, 'connection open');

    // Without an 'error' listener one bad frame would throw and take the process down.
    // ws has already chosen the close code (1007, 1009, ...) when this fires.
    ws.on('error', (err: Error & { code?: string }) => {
      log.debug({ err: err.message, code: err.code }, 'protocol error');
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        ws.close(CloseCode.UnsupportedData, 'Binary frames are not supported');
        return;
      }
      // ws hands text frames over as one Buffer (the default binaryType) and has already
      // checked that they are valid UTF-8.
      this.hub.post(name, (data as Buffer).toString('utf8'));
    });
    ws.once('close', (code: number) => {
      this.groups[format].delete(member);
      this.clients.delete(client);
      log.info({ code }, 'connection close');
      this.hub.leave(name);
    });

    this.hub.join(name);
  }
}
