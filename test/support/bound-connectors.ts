import { Agent } from 'node:http';
import { connectChat, nodeConnectors, openWebSocket, type ChatClient, type ConnectChatOptions } from '../../client/connect';
import type { Connectors } from '../../client/shared/session';

/**
 * The Node connectors (client/connect.ts) with every connection made from one local
 * address, e.g. 127.0.0.2, for tests where the address decides something: nginx's
 * `hash $remote_addr` picks a client's node by it.
 */
export function connectorsFrom(localAddress: string): Connectors {
  return {
    ...nodeConnectors,
    socketIo: (url, name, room, token) =>
      connectChat(url, { name, room, token, autoConnect: false, reconnection: false, forceNew: true, ...fromAddress(localAddress) }),
    webSocket: (url, events) => openWebSocket(url, events, localAddress),
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
