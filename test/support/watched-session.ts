import type { ChatClient } from '../../client/connect';
import { ChatSession, type Connectors, type TransportKind } from '../../client/shared/session';
import type { HistoryMessage } from '../../server/protocol';
import { onCleanup } from './cleanup';
import { waitUntil } from './wait';

/**
 * A chat client as its user sees it through restarts: the messages that reached the
 * screen (live, replayed or from history) and each time it was disconnected.
 */

/** One stretch without a connection: from the drop until connected again (null: still out). */
export interface Outage {
  readonly lostAt: number;
  backAt: number | null;
  readonly reason: string;
}

/** How it is connected: raw or Socket.IO over WebSocket, or Socket.IO on long-polling. */
export type ClientKind = 'raw' | 'socket.io' | 'long-polling';

export interface WatchedClient {
  readonly kind: ClientKind;
  /** Which client, for failure messages: its kind, address and room. */
  readonly label: string;
  readonly room: string;
  /** Ids of every message shown. */
  readonly shown: Set<string>;
  readonly outages: Outage[];
  /** Why it gave up for good, if it did (a user would have to reload). */
  readonly failure: () => string | null;
  readonly connected: () => boolean;
  /** Posts a chat; resolves with its id once the server acknowledged it. */
  send(text: string): Promise<string>;
}

/** Records drops and returns; `show` for each message that reaches the screen. */
class Watch {
  readonly shown = new Set<string>();
  readonly outages: Outage[] = [];
  isConnected = false;
  failed: string | null = null;

  lost(reason: string): void {
    if (!this.isConnected) return;
    this.isConnected = false;
    this.outages.push({ lostAt: Date.now(), backAt: null, reason });
  }

  back(): void {
    this.isConnected = true;
    const last = this.outages.at(-1);
    if (last !== undefined && last.backAt === null) last.backAt = Date.now();
  }

  show(messages: readonly HistoryMessage[]): void {
    for (const message of messages) this.shown.add(message.id);
  }
}

/**
 * A ChatSession (the terminal client's and the page's; raw in JSON mode) retrying
 * always, as those do. Resolves once it is in the room (its own join arrived).
 */
export async function watchSession(
  url: string,
  transport: TransportKind,
  room: string,
  name: string,
  connectors: Connectors,
  label: string,
): Promise<WatchedClient> {
  const watch = new Watch();
  let joined = false;
  const ignore = () => undefined;
  const session = new ChatSession({
    url,
    transport,
    rawFormat: 'json',
    room,
    name,
    retry: 'always',
    connectors,
    handlers: {
      status: (status) => {
        if (status.state === 'connected') watch.back();
        else if (status.state === 'reconnecting') watch.lost(status.reason);
        else if (status.state === 'failed') {
          watch.lost(status.reason);
          watch.failed = status.reason;
        }
      },
      chat: (message) => watch.show([message]),
      history: (messages) => watch.show(messages),
      notice: (_notice, own) => {
        if (own) joined = true;
      },
      presence: ignore,
      typing: ignore,
      seedFrame: ignore,
    },
  });
  onCleanup('clients', () => session.close());
  session.start();
  await waitUntil(() => joined || watch.failed !== null, `${label} to join ${room}`, 20_000);
  if (watch.failed !== null) throw new Error(`${label}: ${watch.failed}`);
  return {
    kind: transport,
    label,
    room,
    shown: watch.shown,
    outages: watch.outages,
    failure: () => watch.failed,
    connected: () => watch.isConnected,
    send: async (text) => {
      const id = await session.send(text);
      if (id === undefined) throw new Error(`${label}: no id in the ack`);
      return id;
    },
  };
}

/**
 * A socket.io-client made by connectChat (with `reconnection` on, its own), e.g. one on
 * long-polling. Resolves once it is in the room (a join notice with its name arrived).
 */
export async function watchChatClient(socket: ChatClient, room: string, name: string, label: string): Promise<WatchedClient> {
  const transports: readonly unknown[] = socket.io.opts.transports ?? ['polling', 'websocket'];
  const kind: ClientKind = transports.includes('websocket') ? 'socket.io' : 'long-polling';
  const watch = new Watch();
  let joined = false;
  socket.on('connect', () => watch.back());
  socket.on('disconnect', (reason) => watch.lost(reason));
  socket.on('chat', (message) => watch.show([message]));
  socket.on('history', (messages) => watch.show(messages));
  socket.on('notice', (notice) => {
    if (notice.kind === 'join' && notice.name === name) joined = true;
  });
  onCleanup('clients', () => socket.close());
  await waitUntil(() => joined, `${label} to join ${room}`, 20_000);
  return {
    kind,
    label,
    room,
    shown: watch.shown,
    outages: watch.outages,
    failure: () => (socket.active ? null : 'socket.io-client stopped reconnecting'),
    connected: () => watch.isConnected,
    send: async (text) => {
      const ack = await socket.emitWithAck('chat', text);
      if (!ack.ok) throw new Error(`${label}: chat refused: ${ack.error}`);
      return ack.id;
    },
  };
}
