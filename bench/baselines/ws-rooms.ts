import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_ROOM, JOIN_TEXT, LEAVE_TEXT, RAW_PATH } from '../../server/protocol';

/**
 * Baseline: the chat with rooms a user writes on `ws` alone: a Map from each room to
 * its clients, the room taken from the path as ours takes it (`/socket/<room>`, the
 * lobby on `/socket`), and `client.send(text)` to every open client of that room for
 * every message and every join and leave notice, with the seed's texts. Nothing here is
 * tuned; that is the point.
 */
export function startWsRooms(port: number): Promise<number> {
  return new Promise((resolve) => {
    const wss = new WebSocketServer({ port, host: '127.0.0.1' }, () => {
      resolve((wss.address() as AddressInfo).port);
    });
    const rooms = new Map<string, Set<WebSocket>>();

    const broadcast = (room: string, text: string): void => {
      rooms.get(room)?.forEach((client) => {
        if (client.readyState === WebSocket.OPEN) client.send(text);
      });
    };

    wss.on('connection', (ws, request) => {
      const path = new URL(request.url ?? RAW_PATH, 'http://localhost').pathname;
      const room = path.startsWith(`${RAW_PATH}/`) ? path.slice(RAW_PATH.length + 1) : DEFAULT_ROOM;
      const members = rooms.get(room) ?? new Set<WebSocket>();
      rooms.set(room, members);
      members.add(ws);

      ws.on('error', () => ws.terminate());
      ws.on('message', (data) => broadcast(room, data.toString()));
      ws.on('close', () => {
        members.delete(ws);
        if (members.size === 0) rooms.delete(room);
        broadcast(room, LEAVE_TEXT);
      });
      broadcast(room, JOIN_TEXT);
    });
  });
}
