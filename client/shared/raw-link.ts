import {
  BANNED,
  ChatError,
  CloseCode,
  CloseReason,
  ModerationClose,
  TokenError,
  type RawAckFrame,
  type RawErrorFrame,
  type RawFormat,
  type RawHistoryFrame,
  type RawJsonFrame,
  type RawRequestAck,
  type RawResumeFrame,
  type RawUnreadFrame,
} from '../../server/protocol.js';
import { TOKEN_EXPIRED, describeTokenRefusal } from './format.js';
import {
  ChatRefusedError,
  MODERATION_REQUESTS,
  RequestFailure,
  describeBanRefusal,
  describeKicked,
  type AnyAck,
  type Connectors,
  type Link,
  type LinkEvents,
  type RawSocket,
  type RequestKind,
  type Requests,
} from './link.js';
import { ResumePoint } from './resume-point.js';
import { rawSocketUrl } from './urls.js';

export interface RawLinkOptions {
  url: string;
  name?: string | undefined;
  room: string;
  token?: string | undefined;
  rawFormat?: RawFormat | undefined;
  connectors: Connectors;
}

interface Outgoing {
  text: string;
  resolve(id: string | undefined): void;
  reject(err: Error): void;
}

interface PendingRequest {
  kind: RequestKind;
  /** The frame, kept until it is sent (after the join). */
  frame: string | undefined;
  resolve(ack: AnyAck): void;
  reject(err: Error): void;
}

/** Every frame the server sends a raw JSON client. */
type ServerFrame = RawJsonFrame | RawResumeFrame | RawAckFrame | RawRequestAck | RawErrorFrame | RawHistoryFrame | RawUnreadFrame;
type Answer = RawRequestAck | RawErrorFrame | RawHistoryFrame | RawUnreadFrame;
/** The errors without a `ref` that answer a chat frame, in place of its ack. */
const CHAT_REFUSALS: ReadonlySet<string> = new Set([ChatError.Muted, ChatError.Rejected, ChatError.Unavailable]);
const FRAME_TYPES = new Set(['chat', 'notice', 'ack', 'error', 'history', 'unread', 'edit', 'delete', 'reaction', 'read']);

/**
 * The raw endpoint. In JSON mode the session asks for acks (`?ack=1`): the server answers
 * each chat frame this connection sent, to it alone and in its order, with the message's
 * id; the k-th ack without a `ref` is the k-th chat frame's. Matching an echo by name and
 * text instead would mix up two connections with the same name sending the same text
 * (two tabs). Requests (edit, delete, ...) carry a `ref`, and their answers come back
 * with it, in whatever order they are done.
 * Messages and requests go out once the server has let this connection into its room (its
 * first join notice): before that, the server would drop them.
 * A reconnection in JSON mode asks for what it missed (`?since=` the newest message id it
 * has handed on): the server replays the messages after it before the join notice, or says
 * it cannot (`history_incomplete`, handed on as a plain line). The session drops repeats.
 */
export class RawLink implements Link {
  private socket: RawSocket | undefined;
  /** Frames sent now reach the room. */
  private ready = false;
  /** Waiting for a connection. */
  private readonly queued: Outgoing[] = [];
  /** JSON mode: sent, waiting for the ack. */
  private readonly unacked: Outgoing[] = [];
  /** JSON mode: requests waiting for their answer, by `ref`. */
  private readonly requests = new Map<string, PendingRequest>();
  private lastRef = 0;
  private readonly format: RawFormat;
  /** JSON mode: where the next connection resumes. */
  private readonly resume = new ResumePoint();

  constructor(
    private readonly options: RawLinkOptions,
    private readonly events: LinkEvents,
  ) {
    this.format = options.rawFormat ?? 'text';
  }

  open(): void {
    const json = this.format === 'json';
    const url = rawSocketUrl(
      this.options.url,
      {
        name: this.options.name,
        format: json ? 'json' : undefined,
        ack: json ? '1' : undefined,
        since: json ? this.resume.since : undefined,
        token: this.options.token,
      },
      this.options.room,
    );
    let failure: string | undefined;
    let status: number | undefined;
    let body: string | undefined;
    const socket: RawSocket = this.options.connectors.webSocket(url, {
      open: () => {
        if (socket !== this.socket) return;
        this.events.opened();
        // Seed mode has no way to tell when the server has joined it: it sends at once, as ever.
        if (!json) this.becomeReady();
      },
      message: (text) => {
        if (socket === this.socket) this.onFrame(text);
      },
      error: (reason, httpStatus, httpBody) => {
        failure ??= reason;
        status ??= httpStatus;
        body ??= httpBody;
      },
      close: (code, reason) => {
        if (socket !== this.socket) return;
        this.socket = undefined;
        this.ready = false;
        this.failAll(this.unacked, RequestFailure.Lost);
        this.failRequests(RequestFailure.Lost);
        const { room } = this.options;
        const tokenRefusal = status === 401 ? TokenError.Unauthorized : status === 403 ? TokenError.Forbidden : undefined;
        // A ban, a kick and a refused token all end the session: the same connection would
        // be refused again, and coming back on its own would undo a kick.
        if (status === 403 && body?.trim() === BANNED) {
          this.events.lost(describeBanRefusal(room), true);
        } else if (code === ModerationClose.Kicked || code === ModerationClose.Banned) {
          const kicked = { room, reason: code === ModerationClose.Banned ? BANNED : reason };
          this.events.kicked(kicked);
          this.events.lost(describeKicked(kicked), true);
        } else if (tokenRefusal !== undefined) {
          this.events.lost(describeTokenRefusal(tokenRefusal, this.options.room, this.options.token), true);
        } else if (code === CloseCode.PolicyViolation && reason === CloseReason.TokenExpired) {
          this.events.lost(TOKEN_EXPIRED, true);
        } else {
          this.events.lost(failure ?? describeClose(code, reason), false);
        }
      },
    });
    this.socket = socket;
  }

  send(text: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.queued.push({ text, resolve, reject });
      if (this.ready) this.flush();
    });
  }

  /**
   * JSON mode only. A request made while connected but not yet in the room waits for the
   * join; without a connection it is refused at once (unlike a chat, it would be stale later).
   */
  request<K extends RequestKind>(kind: K, body: Requests[K]['request']): Promise<Requests[K]['ack']> {
    if (MODERATION_REQUESTS.has(kind)) return Promise.reject(new Error(RequestFailure.RawEndpoint));
    if (this.format === 'text') return Promise.reject(new Error(RequestFailure.RawText));
    if (this.socket === undefined) return Promise.reject(new Error(RequestFailure.NotConnected));
    this.lastRef += 1;
    const ref = this.lastRef;
    return new Promise((resolve, reject) => {
      this.requests.set(String(ref), {
        kind,
        frame: JSON.stringify({ ...body, type: kind, ref }),
        resolve: resolve as (ack: AnyAck) => void,
        reject,
      });
      if (this.ready) this.flush();
    });
  }

  typing(): void {
    // The raw endpoint has no typing event: every frame is a chat message.
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.ready = false;
    this.failAll(this.queued, 'closed before the message was sent');
    this.failAll(this.unacked, RequestFailure.Closed);
    this.failRequests(RequestFailure.Closed);
    return socket?.close() ?? Promise.resolve();
  }

  private becomeReady(): void {
    this.ready = true;
    this.flush();
  }

  private flush(): void {
    const socket = this.socket;
    if (socket === undefined) return;
    for (const out of this.queued.splice(0)) {
      if (this.format === 'json') this.unacked.push(out);
      socket.send(out.text).then(
        () => {
          if (this.format === 'text') out.resolve(undefined);
        },
        (err: unknown) => out.reject(err instanceof Error ? err : new Error(String(err))),
      );
    }
    for (const [ref, request] of this.requests) {
      if (request.frame === undefined) continue;
      const frame = request.frame;
      request.frame = undefined;
      socket.send(frame).catch((err: unknown) => {
        this.requests.delete(ref);
        request.reject(err instanceof Error ? err : new Error(String(err)));
      });
    }
  }

  private onFrame(text: string): void {
    if (this.format === 'text') {
      this.events.seedFrame(text);
      return;
    }
    const frame = parseJsonFrame(text);
    if (frame === null) {
      this.events.seedFrame(text);
      return;
    }
    if ('ref' in frame && frame.ref !== undefined) {
      this.answer(frame as Answer);
      return;
    }
    switch (frame.type) {
      case 'error': {
        // A chat refused before it was stored (muted, or the publish hook's verdict) is
        // answered with this error in place of its ack.
        if (!CHAT_REFUSALS.has(frame.error)) return;
        this.unacked.shift()?.reject(new ChatRefusedError(frame.error, frame.reason));
        return;
      }
      case 'ack': {
        const out = this.unacked.shift();
        if (out === undefined) return; // not ours to answer: nothing waits for it
        if ('id' in frame && frame.id !== undefined) out.resolve(frame.id);
        else out.reject(new Error('the server had not let this connection into the room yet'));
        return;
      }
      case 'notice': {
        if (frame.kind === 'history_incomplete') {
          this.events.seedFrame(frame.text);
          return;
        }
        const { type: _type, ...notice } = frame;
        // The first join after connecting means the server has joined this connection
        // (its own join, or one announced just before it).
        if (!this.ready && notice.kind === 'join') this.becomeReady();
        this.events.notice(notice);
        return;
      }
      case 'chat': {
        const { type: _type, ...message } = frame;
        this.resume.handedOn(message.id);
        this.events.chat(message);
        return;
      }
      case 'edit': {
        const { type: _type, ...edit } = frame;
        this.events.edited(edit);
        return;
      }
      case 'delete': {
        const { type: _type, ...deleted } = frame;
        this.events.deleted(deleted);
        return;
      }
      case 'reaction': {
        const { type: _type, ...reaction } = frame;
        this.events.reaction(reaction);
        return;
      }
      case 'read': {
        const { type: _type, ...marker } = frame;
        this.events.read(marker);
        return;
      }
      default:
        // An error, page or count that names no request of ours: nothing waits for it.
        return;
    }
  }

  /** The answer to the request `frame.ref` names, if one waits for it and this frame answers it. */
  private answer(frame: Answer): void {
    const ref = String(frame.ref);
    const request = this.requests.get(ref);
    if (request === undefined) return;
    const ack = ackFor(request.kind, frame);
    if (ack === undefined) return;
    this.requests.delete(ref);
    if (frame.type === 'history') for (const message of frame.messages) this.resume.handedOn(message.id);
    request.resolve(ack);
  }

  private failAll(list: Outgoing[], why: string): void {
    for (const out of list.splice(0)) out.reject(new Error(why));
  }

  private failRequests(why: string): void {
    const pending = [...this.requests.values()];
    this.requests.clear();
    for (const request of pending) request.reject(new Error(why));
  }
}

/**
 * The Socket.IO-shaped ack for a request of `kind` from the raw frame that answers it;
 * undefined for a frame that does not (an `ack` beside a page of history).
 */
function ackFor(kind: RequestKind, frame: Answer): AnyAck | undefined {
  if (frame.type === 'error') return { ok: false, error: frame.error };
  switch (kind) {
    case 'history':
      return frame.type === 'history' ? { ok: true, messages: frame.messages, more: frame.more } : undefined;
    case 'unread':
      return frame.type === 'unread' ? { ok: true, rooms: frame.rooms } : undefined;
    case 'edit':
      return frame.type === 'ack' && frame.version !== undefined ? { ok: true, version: frame.version } : undefined;
    case 'react':
      return frame.type === 'ack' && frame.count !== undefined ? { ok: true, count: frame.count } : undefined;
    case 'delete':
    case 'read':
      return frame.type === 'ack' ? { ok: true } : undefined;
    case 'kick':
    case 'ban':
    case 'mute':
      return undefined; // never sent over this wire (see request)
  }
}

function parseJsonFrame(text: string): ServerFrame | null {
  try {
    const frame = JSON.parse(text) as unknown;
    if (typeof frame !== 'object' || frame === null) return null;
    const type = (frame as { type?: unknown }).type;
    return typeof type === 'string' && FRAME_TYPES.has(type) ? (frame as ServerFrame) : null;
  } catch {
    return null; // not JSON: shown as it came
  }
}

function describeClose(code: number, reason: string): string {
  if (code === CloseCode.ServiceRestart) return 'the server is restarting';
  if (code === 1001) return `the server is going away${reason ? ` (${reason})` : ''}`;
  if (code === 1006) return 'the connection dropped';
  return `the server closed the connection (${code}${reason ? ` ${reason}` : ''})`;
}
