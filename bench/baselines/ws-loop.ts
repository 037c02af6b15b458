import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { JOIN_TEXT, LEAVE_TEXT } from '../../server/protocol';

/**
 * Baseline: the broadcast server a user writes from the `ws` README ("Server broadcast"):
 * `client.send(text)` for every open client, for every message and every join and leave
 * notice, with the seed's texts. Nothing here is tuned; that is the point.
 */
export function startWsLoop(port: number): Promise<number> {
  return new Promise((resolve) => {
    const wss = new WebSocketServer({ port, host: '127.0.0.1' }, () => {
      resolve((wss.address() as AddressInfo).port);
    });

    const broadcast = (text: string): void => {
      wss.clients.forEach((client) => {
        if (client.readyState === WebSocket.OPEN) client.send(text);
      });
    };

    wss.on('connection', (ws) => {
      ws.on('error', () => ws.terminate());
      ws.on('message', (data) => broadcast(data.toString()));
      ws.on('close', () => broadcast(LEAVE_TEXT));
      broadcast(JOIN_TEXT);
    });
  });
}
