import { Agent } from 'node:http';
import WebSocket from 'ws';
import { connectChat, nodeConnectors, type ChatClient, type ConnectChatOptions } from '../../client/connect';
import type { Connectors, RawSocket, RawSocketEvents } from '../../client/shared/session';

/**
 * The Node connectors (client/connect.ts) with every connection made from one local
 * address, e.g. 127.0.0.2, for tests where the address decides something: nginx's
 * `hash $remote_addr` picks a client's node by it. nodeConnectors cannot be told an
 * address, so the raw one is opened here the same way (ws, no compression) with it.
 */
export function connectorsFrom(localAddress: string): Connectors {
  return {
    ...nodeConnectors,
    socketIo: (url, name, room, token) =>
      connectChat(url, { name, room, token, autoConnect: false, reconnection: false, forceNew: true, ...fromAddress(localAddress) }),
    webSocket: (url, events) => openWebSocketFrom(url, events, localAddress),
  };
}

/**
 * connectChat's options that make both of engine.io's transports connect from
 * `localAddress`: its WebSocket takes `localAddress`, its long-polling only an `agent`
 * (typed as a string for browsers' sake; Node's http.Agent is what it takes).
 */
export function fromAddress(localAddress: string): Partial<ConnectChatOptions> {
  const agent = new Agent({ localAddress });
  return { localAddress, agent: agent as unknown as string } as Partial<ConnectChatOptions>;
}

/** connectChat from `localAddress`, over both transports. */
export function connectChatFrom(url: string, localAddress: string, options: ConnectChatOptions): ChatClient {
  return connectChat(url, { ...options, ...fromAddress(localAddress) });
}

function openWebSocketFrom(url: string, events: RawSocketEvents, localAddress: string): RawSocket {
  const ws = new WebSocket(url, { localAddress, perMessageDeflate: false, handshakeTimeout: 10_000 });
  const closed = new Promise<void>((resolve) => {
    ws.on('close', (code, reason) => {
      events.close(code, reason.toString());
      resolve();
    });
  });
  ws.on('open', () => events.open());
  ws.on('message', (data, isBinary) => {
    if (!isBinary) events.message(String(data));
  });
  ws.on('unexpected-response', (_req, res) => {
    events.error(`the server refused the connection (HTTP ${res.statusCode ?? '?'})`, res.statusCode, '');
    ws.terminate();
  });
  ws.on('error', (err) => events.error(nodeConnectors.describeError(err)));
  return {
    send: (text) => new Promise<void>((resolve, reject) => ws.send(text, (err) => (err ? reject(err) : resolve()))),
    close: () => {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      ws.close();
      return closed;
    },
  };
}
