import type { io as ioFunction } from 'socket.io-client';
import { SOCKET_IO_PATH } from '../../server/protocol.js';
import type { Connectors } from '../shared/session.js';
import { socketIoRoomUrl } from '../shared/urls.js';

declare global {
  interface Window {
    /** Defined by /socket.io/socket.io.js, the client bundle the server serves. */
    io?: typeof ioFunction;
  }
}

/** Whether the Socket.IO client script loaded. */
export function socketIoLoaded(): boolean {
  return typeof window.io === 'function';
}

/**
 * The browser's connectors: the served socket.io-client bundle, and the native WebSocket
 * (which tells a page nothing about why a connection failed, so neither can we).
 */
export const browserConnectors: Connectors = {
  socketIo: (url, name, room, token) => {
    if (window.io === undefined) throw new Error('the Socket.IO client script did not load');
    return window.io(socketIoRoomUrl(url, room), {
      path: SOCKET_IO_PATH,
      // A connection of its own per session: the session being closed on a room switch
      // must not take the next one's connection down with it.
      forceNew: true,
      autoConnect: false,
      reconnection: false,
      // In the CONNECT packet, never in a URL.
      auth: { ...(name === undefined ? {} : { name }), ...(token === undefined ? {} : { token }) },
    });
  },
  webSocket: (url, events) => {
    const ws = new WebSocket(url);
    ws.onopen = () => events.open();
    ws.onmessage = (event: MessageEvent<unknown>) => {
      if (typeof event.data === 'string') events.message(event.data);
    };
    ws.onerror = () => events.error('cannot reach the server');
    ws.onclose = (event) => events.close(event.code, event.reason);
    return {
      send: (text) => {
        ws.send(text);
        return Promise.resolve();
      },
      close: () => {
        ws.close();
        return Promise.resolve();
      },
    };
  },
  describeError: () => 'cannot reach the server',
};
