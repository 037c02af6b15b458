import { connectChat, type ChatSocket } from '../../client/connect';
import type { ChatAck, ChatMessage, HistoryMessage, Notice, Presence, Typing } from '../../server/protocol';
import { fromAddress } from './bound-connectors';
import { onCleanup } from './cleanup';
import { EventQueue } from './event-queue';

export interface SioTestClient {
  readonly socket: ChatSocket;
  readonly chats: EventQueue<ChatMessage>;
  readonly notices: EventQueue<Notice>;
  readonly histories: EventQueue<HistoryMessage[]>;
  readonly presences: EventQueue<Presence>;
  readonly typings: EventQueue<Typing>;
  /** Sends a chat and resolves with the server's ack. */
  chat(text: unknown): Promise<ChatAck>;
}

export interface SioOptions {
  auth?: Record<string, unknown>;
  transports?: ('websocket' | 'polling')[];
  extraHeaders?: Record<string, string>;
  /**
   * The local address to connect from, e.g. 127.0.0.2: the server keeps flood-control
   * budgets per address. Linux answers on all of 127.0.0.0/8 without configuration;
   * other systems need the alias added first.
   */
  localAddress?: string;
  /** Reconnect after a drop, as a real client does (off by default: see connectSio). */
  reconnection?: boolean;
  /** The room (namespace) to join; the lobby by default. */
  room?: string;
  /** https://: the certificate(s) to trust (a test's self-signed one), for both transports (PEM text). */
  ca?: string;
}

/**
 * A real socket.io-client made by the clients' own connectChat, one connection per client
 * (forceNew), no automatic reconnection so that a test sees exactly what the server did. Resolves once connected;
 * the queues are listening from the start, so nothing sent on connect is missed.
 */
export function connectSio(baseUrl: string, options: SioOptions = {}): Promise<SioTestClient> {
  const socket = connectChat(baseUrl, {
    room: options.room,
    forceNew: true,
    reconnection: options.reconnection ?? false,
    transports: options.transports ?? ['websocket'],
    auth: options.auth ?? {},
    ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
    ...(options.localAddress ? fromAddress(options.localAddress) : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
  // Resolves once the Engine.IO connection is really closed: a long-polling client sends
  // its goodbye in one more HTTP request, which must finish before the server goes away.
  onCleanup(
    'clients',
    () =>
      new Promise<void>((resolve) => {
        const engine = socket.io.engine;
        if (engine === undefined || engine.readyState === 'closed') resolve();
        else engine.once('close', () => resolve());
        socket.close();
        setTimeout(resolve, 2_000).unref(); // bounds the wait: a close never confirmed does not hold up the next test
      }),
  );
  const label = `socket.io client ${JSON.stringify(options.auth ?? {})}`;
  const client: SioTestClient = {
    socket,
    chats: new EventQueue(`${label} chat`),
    notices: new EventQueue(`${label} notice`),
    histories: new EventQueue(`${label} history`),
    presences: new EventQueue(`${label} presence`),
    typings: new EventQueue(`${label} typing`),
    chat: (text) =>
      new Promise<ChatAck>((resolve) => {
        socket.emit('chat', text as string, resolve);
      }),
  };
  socket.on('chat', (message) => client.chats.push(message));
  socket.on('notice', (notice) => client.notices.push(notice));
  socket.on('history', (messages) => client.histories.push(messages));
  socket.on('presence', (presence) => client.presences.push(presence));
  socket.on('typing', (who) => client.typings.push(who));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(withHttpStatus(err));
    });
  });
}

/**
 * socket.io-client refuses a handshake with only "websocket error" or "xhr poll error" as
 * the message, the HTTP status hidden in `description`. The message gets the status, in
 * connectRaw's words ("HTTP 403"), so that a test can say which refusal it expects.
 */
function withHttpStatus(err: Error): Error {
  const description = (err as Error & { description?: unknown }).description;
  const status =
    typeof description === 'number'
      ? String(description) // long-polling: the status itself
      : /Unexpected server response: (\d+)/.exec(String((description as { error?: unknown } | undefined)?.error))?.[1];
  if (status !== undefined) err.message = `${err.message}: HTTP ${status}`;
  return err;
}
