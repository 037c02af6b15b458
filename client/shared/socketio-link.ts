import { BANNED, RoomError, TokenError, type ChatAck, type Kicked } from '../../server/protocol.js';
import { TOKEN_EXPIRED, describeRoomRefusal, describeTokenRefusal, tokenExpired } from './format.js';
import {
  ChatRefusedError,
  RequestFailure,
  describeBanRefusal,
  describeKicked,
  type ChatSocket,
  type Connectors,
  type Link,
  type LinkEvents,
  type RequestKind,
  type Requests,
} from './link.js';

const DISCONNECT_REASONS: Record<string, string> = {
  'transport close': 'the server closed the connection',
  'transport error': 'the connection failed',
  'ping timeout': 'the server stopped answering',
  'parse error': 'the server sent something unreadable',
  'io server disconnect': 'the server disconnected this client',
};

/** Socket.IO, with its own reconnection off: the session retries, so both transports behave alike. */
export class SocketIoLink implements Link {
  /** Rejecters of the chats and requests still waiting for their answer. */
  private readonly unanswered = new Set<(err: Error) => void>();
  /**
   * The chats among them that went out on a connection (socket.io-client sends the ones
   * emitted meanwhile when it connects). One whose connection ends unanswered is told
   * lost, as on the raw endpoint: socket.io-client would keep waiting for an answer that
   * can no longer come (a drain may close the connection after storing it, before its ack).
   */
  private readonly chatsOnWire = new Set<(err: Error) => void>();
  private readonly chatsBuffered = new Set<(err: Error) => void>();
  /** The `kicked` event of this connection, which comes just before the server disconnects it. */
  private kicked: Kicked | undefined;

  constructor(
    private readonly socket: ChatSocket,
    connectors: Connectors,
    events: LinkEvents,
    { room, token }: { room: string; token: string | undefined },
  ) {
    socket.on('connect', () => {
      this.kicked = undefined;
      for (const reject of this.chatsBuffered) this.chatsOnWire.add(reject);
      this.chatsBuffered.clear();
      events.opened();
    });
    socket.on('connect_error', (err) => {
      // Banned: so is the next attempt, until a moderator lifts it.
      if (err.message === BANNED) {
        events.lost(describeBanRefusal(room), true);
        return;
      }
      // The same token would be refused again: final.
      if (err.message === TokenError.Unauthorized || err.message === TokenError.Forbidden) {
        events.lost(describeTokenRefusal(err.message, room, token), true);
        return;
      }
      const refusal = describeRoomRefusal(err.message);
      // A malformed room stays malformed: trying again would only be refused again. A full
      // server may have room later, so room_limit is retried like any other failure.
      if (refusal !== undefined) events.lost(refusal, err.message === RoomError.InvalidRoom);
      else events.lost(connectors.describeError(err), false);
    });
    socket.on('kicked', (kicked) => {
      this.kicked = kicked;
    });
    socket.on('disconnect', (reason) => {
      // Closed on purpose: close() rejects everything itself.
      if (reason === 'io client disconnect') return;
      for (const reject of this.chatsOnWire) {
        this.unanswered.delete(reject);
        reject(new Error(RequestFailure.Lost));
      }
      this.chatsOnWire.clear();
      const kicked = this.kicked;
      if (reason === 'io server disconnect' && kicked !== undefined) {
        events.kicked(kicked);
        events.lost(describeKicked(kicked), true);
        return;
      }
      // The server gives no reason beyond `io server disconnect`; a token past its `exp` is one.
      if (reason === 'io server disconnect' && token !== undefined && tokenExpired(token)) {
        events.lost(TOKEN_EXPIRED, true);
        return;
      }
      // After a server-side disconnect() socket.io-client does not come back on its own
      // either: the server meant it.
      events.lost(DISCONNECT_REASONS[reason] ?? reason, reason === 'io server disconnect');
    });
    socket.on('chat', (message) => events.chat(message));
    socket.on('notice', (notice) => events.notice(notice));
    socket.on('history', (messages) => events.history(messages));
    socket.on('presence', (presence) => events.presence(presence));
    socket.on('typing', (who) => events.typing(who));
    socket.on('edit', (edit) => events.edited(edit));
    socket.on('delete', (deleted) => events.deleted(deleted));
    socket.on('reaction', (reaction) => events.reaction(reaction));
    socket.on('read', (marker) => events.read(marker));
  }

  open(): void {
    this.socket.connect();
  }

  /** socket.io-client buffers what is emitted while disconnected and sends it on reconnection. */
  send(text: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.unanswered.add(reject);
      (this.socket.connected ? this.chatsOnWire : this.chatsBuffered).add(reject);
      this.socket.emit('chat', text, (ack: ChatAck) => {
        this.unanswered.delete(reject);
        this.chatsOnWire.delete(reject);
        this.chatsBuffered.delete(reject);
        if (ack.ok) resolve(ack.id);
        else reject(new ChatRefusedError(ack.error, ack.reason));
      });
    });
  }

  /**
   * Unlike a chat, a request is not kept for the next connection: an edit or a page of
   * history asked for long ago is stale. emitWithAck rejects when the connection drops.
   */
  request<K extends RequestKind>(kind: K, body: Requests[K]['request']): Promise<Requests[K]['ack']> {
    if (!this.socket.connected) return Promise.reject(new Error(RequestFailure.NotConnected));
    // The event maps type each event on its own; one cast covers them all.
    const emitWithAck = this.socket.emitWithAck.bind(this.socket) as unknown as (
      event: RequestKind,
      ...args: unknown[]
    ) => Promise<Requests[K]['ack']>;
    return new Promise((resolve, reject) => {
      this.unanswered.add(reject);
      const answer = kind === 'unread' ? emitWithAck(kind) : emitWithAck(kind, body);
      answer
        .then(resolve, () => reject(new Error(RequestFailure.Lost)))
        .finally(() => this.unanswered.delete(reject));
    });
  }

  typing(): void {
    // Not buffered: a typing hint that arrives after a reconnection is stale.
    if (this.socket.connected) this.socket.emit('typing');
  }

  close(): Promise<void> {
    this.socket.disconnect();
    // Before socket.io-client's own rejections, which come a microtask later: this reason wins.
    for (const reject of this.unanswered) reject(new Error(RequestFailure.Closed));
    this.unanswered.clear();
    this.chatsOnWire.clear();
    this.chatsBuffered.clear();
    return Promise.resolve();
  }
}
