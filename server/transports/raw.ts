import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type Server as WsServer } from 'ws';
import { isRefusal, type Admission, type Refusal, type Ticket } from '../edge/admission';
import type { Config } from '../config';
import type { FloodControl } from '../room/flood-control';
import { withDeadline } from '../support/deadline';
import type { Hub, Transport } from '../room/room';
import { wsErrorReason, type Metrics } from '../support/metrics';
import { displayName } from '../room/names';
import { isMessageId } from '../room/message-id';
import {
  CloseCode,
  HISTORY_INCOMPLETE_TEXT,
  type ChatMessage,
  type Notice,
  type RawJsonFrame,
  type RawResumeFrame,
} from '../protocol';
import type { LoadReport } from '../process/sticky-load';
import { rejectUpgrade } from '../edge/reject-upgrade';
import { BroadcastGroup } from './broadcast-group';
import { RawClient, type RawClientHost, type RawFormat } from './raw-client';
import { SlowConsumerRule } from './slow-consumer';

export type { RawFormat } from './raw-client';

export interface RawTransportOptions {
  hub: Hub;
  config: Config;
  admission: Admission;
  /** Message budgets, kept per address across reconnects. */
  floodControl: FloodControl;
  metrics: Metrics;
  logger: Logger;
  /** In a worker of WORKERS > 1: tells the primary's balancer about each client. */
  loadReport?: LoadReport;
}

/**
 * What each log line about a client carries, built when a line is written. Not a child
 * logger per connection: that would hold about 0.45 KiB (measured with the raw join
 * storm) for as long as the connection lives, for the few lines it writes.
 */
function clientFields(client: RawClient) {
  return { transport: 'raw', name: client.name, format: client.format };
}

/**
 * ws's code for a message in more than 16384 fragments (its maxFragments) or buffered in
 * too many pieces. ws closes with 1008 itself, the code flood control uses, so these get
 * a log line of their own to tell the two apart.
 */
const TOO_MANY_PARTS = 'WS_ERR_TOO_MANY_BUFFERED_PARTS';

/**
 * The seed-compatible endpoint: plain WebSocket, text frames, every frame broadcast
 * verbatim to everyone (sender included), the seed's join and leave strings.
 */
export class RawTransport implements Transport, RawClientHost {
  private readonly wss: WsServer<typeof RawClient>;
  private readonly hub: Hub;
  private readonly config: Config;
  private readonly admission: Admission;
  private readonly floodControl: FloodControl;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly loadReport: LoadReport | undefined;
  private readonly groups: Record<RawFormat, BroadcastGroup<RawClient>>;
  private readonly clients = new Set<RawClient>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly slowConsumers: SlowConsumerRule;

  constructor(options: RawTransportOptions) {
    ({ hub: this.hub, config: this.config, admission: this.admission, metrics: this.metrics, logger: this.logger } =
      options);
    this.floodControl = options.floodControl;
    this.loadReport = options.loadReport;
    this.slowConsumers = SlowConsumerRule.fromConfig(this.config);
    const onSlow = (client: RawClient) => this.cutSlowConsumer(client);
    this.groups = {
      text: new BroadcastGroup(this.slowConsumers, onSlow),
      json: new BroadcastGroup(this.slowConsumers, onSlow),
    };
    this.wss = new WebSocketServer({
      noServer: true,
      WebSocket: RawClient,
      clientTracking: false,
      // ws would otherwise accept frames of up to 100 MiB; a larger one is closed with 1009.
      maxPayload: this.config.maxMessageBytes,
      // Off so that a broadcast is framed once for all clients (see BroadcastGroup).
      perMessageDeflate: false,
    });
    this.heartbeat = setInterval(() => this.checkHeartbeats(), this.config.heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Completes the handshake of an upgrade the router sent here (its origin already passed). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const format = url.searchParams.get('format') ?? 'text';
    if (format !== 'text' && format !== 'json') {
      this.metrics.reject('invalid');
      rejectUpgrade(socket, 400, 'format must be "text" or "json"');
      return;
    }
    const since = url.searchParams.get('since') ?? undefined;
    if (since !== undefined && (format !== 'json' || !isMessageId(since))) {
      this.metrics.reject('invalid');
      rejectUpgrade(socket, 400, 'since needs format=json and a message id like 1700000000000-0');
      return;
    }
    const ip = req.socket.remoteAddress ?? 'unknown';
    const admitted: Ticket | Refusal = this.admission.tokenAccepted(url.searchParams.get('token') ?? undefined)
      ? this.admission.admit(ip, true)
      : { status: 401, reason: 'auth', message: 'Missing or wrong token' };
    if (isRefusal(admitted)) {
      this.metrics.reject(admitted.reason);
      this.logger.info({ transport: 'raw', ip, status: admitted.status }, `upgrade refused: ${admitted.reason}`);
      rejectUpgrade(socket, admitted.status, admitted.message);
      return;
    }
    const name = displayName(url.searchParams.get('name') ?? undefined);
    // Told before the 101 goes out, so the primary counts this client before the client
    // can open its next connection (see sticky-load.ts). ws completes the handshake and
    // calls back synchronously, or not at all when it refused it.
    this.loadReport?.opened();
    let accepted = false;
    this.wss.handleUpgrade(req, socket, head, (client) => {
      accepted = true;
      // Sent before the client joins the broadcast group, so it comes before anything live.
      if (since !== undefined) this.replay(client, since);
      this.accept(client, socket, name, format, admitted);
    });
    if (accepted) return;
    this.admission.release(admitted);
    this.loadReport?.closed();
  }

  deliverChat(message: ChatMessage): void {
    let count = this.groups.text.publish(message.text);
    if (this.groups.json.size > 0) {
      const frame: RawJsonFrame = { type: 'chat', ...message };
      count += this.groups.json.publish(JSON.stringify(frame));
    }
    this.metrics.delivered('raw', count);
  }

  deliverNotice(notice: Notice): void {
    let count = this.groups.text.publish(notice.text);
    if (this.groups.json.size > 0) {
      const frame: RawJsonFrame = { type: 'notice', ...notice };
      count += this.groups.json.publish(JSON.stringify(frame));
    }
    this.metrics.delivered('raw', count);
  }

  /**
   * Shutdown: sends what is pending, then closes every client with 1001 (going away).
   * Resolves when all have closed, or after `graceMs`, when the rest are cut.
   */
  async close(graceMs: number): Promise<void> {
    clearInterval(this.heartbeat);
    this.groups.text.flush();
    this.groups.json.flush();
    const closed = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.once('close', () => resolve());
          client.close(CloseCode.GoingAway, 'Server shutting down');
        }),
    );
    await withDeadline(Promise.all(closed), graceMs);
    for (const client of this.clients) client.terminate();
  }

  private accept(client: RawClient, socket: Duplex, name: string, format: RawFormat, ticket: Ticket): void {
    const { ip } = ticket;
    client.name = name;
    client.format = format;
    client.ticket = ticket;
    client.socket = socket;
    client.bucket = this.floodControl.open(ip);
    client.listen(this);
    this.groups[format].add(client);
    this.clients.add(client);
    this.logger.info({ ...clientFields(client), ip }, 'connection open');
    this.hub.join(name);
  }

  /** ws has already chosen the close code (1007, 1009, ...) when this fires. */
  failed(client: RawClient, err: Error & { code?: string }): void {
    this.metrics.reject(wsErrorReason(err.code));
    const fields = { ...clientFields(client), err: err.message, code: err.code };
    if (err.code === TOO_MANY_PARTS) this.logger.info(fields, 'too many message fragments');
    else this.logger.debug(fields, 'protocol error');
  }

  received(client: RawClient, data: RawData, isBinary: boolean): void {
    // Once the server has decided to close a client (1003, 1008, shutdown), ws still
    // hands over what it sends until the close handshake ends (up to 30 s for a client
    // that ignores the close frame): none of it goes out.
    if (client.readyState !== RawClient.OPEN) return;
    if (isBinary) {
      this.metrics.reject('invalid');
      client.close(CloseCode.UnsupportedData, 'Binary frames are not supported');
      return;
    }
    // A raw client has no ack to carry "slow down", so going past the burst closes it.
    if (client.bucket !== null && !client.bucket.take()) {
      this.metrics.reject('rate');
      this.logger.info(clientFields(client), 'rate limit exceeded');
      client.close(CloseCode.PolicyViolation, 'Rate limit exceeded');
      return;
    }
    this.metrics.messageIn('raw');
    // ws hands text frames over as one Buffer (the default binaryType) and has already
    // checked that they are valid UTF-8.
    this.hub.post(client.name, (data as Buffer).toString('utf8'));
  }

  /** ws emits 'close' once per client. */
  closed(client: RawClient, code: number): void {
    this.groups[client.format].delete(client);
    this.clients.delete(client);
    this.admission.release(client.ticket);
    this.floodControl.close(client.ticket.ip, client.bucket);
    this.loadReport?.closed();
    this.logger.info({ ...clientFields(client), code }, 'connection close');
    this.hub.leave(client.name);
  }

  /** `?since=<id>`: the chat messages after that id, or a notice that they are gone. */
  private replay(ws: RawClient, since: string): void {
    const missed = this.hub.since(since);
    if (missed === null) {
      const frame: RawResumeFrame = { type: 'notice', kind: 'history_incomplete', text: HISTORY_INCOMPLETE_TEXT, since, at: Date.now() };
      ws.send(JSON.stringify(frame));
      return;
    }
    for (const message of missed) {
      const frame: RawJsonFrame = { type: 'chat', ...message };
      ws.send(JSON.stringify(frame));
    }
  }

  /**
   * The standard ws heartbeat: ping everyone; whoever did not answer the last ping is
   * gone. A client whose ping still waits behind more than MAX_BUFFERED_BYTES it has not
   * read had a whole interval to drain and did not: that is a slow consumer.
   */
  private checkHeartbeats(): void {
    for (const client of this.clients) {
      if (this.slowConsumers.judge(client, client.socket.writableLength) === 'cut') {
        this.cutSlowConsumer(client);
        continue;
      }
      if (!client.alive) {
        if (this.slowConsumers.isBehind(client.socket.writableLength)) {
          this.cutSlowConsumer(client);
          continue;
        }
        this.logger.info(clientFields(client), 'no pong since the last ping; terminating');
        client.terminate();
        continue;
      }
      client.alive = false;
      client.ping();
    }
  }

  /**
   * A close frame would queue behind the megabytes the client is not reading, so the
   * connection is cut; the 'close' handler then announces the leave, once.
   */
  private cutSlowConsumer(client: RawClient): void {
    if (client.socket.destroyed) return; // cut already; its 'close' is on the way
    this.metrics.reject('slow_consumer');
    this.logger.info({ ...clientFields(client), buffered: client.socket.writableLength }, 'slow consumer; terminating');
    client.terminate();
  }
}
