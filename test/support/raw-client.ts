import WebSocket from 'ws';
import type { RawJsonFrame } from '../../server/protocol';
import { rawSocketUrl } from '../../client/shared/urls';
import { onCleanup } from './cleanup';
import { EventQueue } from './event-queue';

export interface Closed {
  code: number;
  reason: string;
}

/** A plain `ws` client of /socket, as a browser console would use it. */
export interface RawTestClient {
  readonly ws: WebSocket;
  readonly messages: EventQueue<string>;
  readonly closed: Promise<Closed>;
  send(text: string): void;
  /** The next frame parsed as JSON (for `?format=json`). */
  nextJson(timeoutMs?: number): Promise<RawJsonFrame>;
  close(): Promise<Closed>;
}

export { rawSocketUrl as rawUrl } from '../../client/shared/urls';

export interface RawConnectOptions {
  /**
   * The local address to connect from, e.g. 127.0.0.2: the server keeps flood-control
   * budgets and connection counts per address. Linux answers on all of 127.0.0.0/8
   * without configuration; other systems need the alias added first.
   */
  localAddress?: string;
  /** The room to join; the lobby (`/socket`) by default. */
  room?: string;
  /** wss://: the certificate(s) to trust (a test's self-signed one). */
  ca?: string | Buffer;
}

/** Connects and resolves once the handshake is done; rejects if the server refuses it. */
export function connectRaw(
  baseUrl: string,
  query: Record<string, string> = {},
  headers: Record<string, string> = {},
  options: RawConnectOptions = {},
): Promise<RawTestClient> {
  const ws = new WebSocket(rawSocketUrl(baseUrl, query, options.room), {
    headers,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const forget = onCleanup('clients', () => {
    ws.terminate();
    return closed;
  });
  const messages = new EventQueue<string>(`raw client ${JSON.stringify(query)}`);
  ws.on('message', (data, isBinary) => {
    messages.push(isBinary ? `<binary ${String(data)}>` : String(data));
  });
  const closed = new Promise<Closed>((resolve) => {
    ws.on('close', (code, reason) => {
      forget();
      resolve({ code, reason: reason.toString() });
    });
  });
  const client: RawTestClient = {
    ws,
    messages,
    closed,
    send: (text) => ws.send(text),
    nextJson: async (timeoutMs) => JSON.parse(await messages.next(timeoutMs)) as RawJsonFrame,
    close: () => {
      ws.close();
      return closed;
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`handshake refused with HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}
