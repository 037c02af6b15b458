import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { DEFAULT_ROOM, JOIN_TEXT, LEAVE_TEXT, type ChatMessage } from '../../server/protocol';

/**
 * Baseline: the Socket.IO chat with rooms a user writes from the socket.io docs, with
 * the same events and shapes as socketio-emit.ts (`history` of the room to the newcomer,
 * `notice` for every join and leave, `chat` for every message), each sent to the room
 * only. Default options; nothing tuned.
 *
 * Our clients name their room as a namespace (`/room-7`; `/` is the lobby), so the rooms
 * are a dynamic namespace, and each socket joins the room of its namespace and is sent to
 * with `nsp.to(room).emit`. That is `io.to(room).emit` in another namespace: rooms live in
 * a namespace's adapter, and `io.to(room).emit` is the main namespace's `to(room).emit`,
 * which encodes the packet once and writes it to each socket of the room, as here.
 */
export function startSocketIoRooms(port: number): Promise<number> {
  const httpServer = createServer();
  const io = new Server(httpServer);
  const histories = new Map<string, ChatMessage[]>();
  let lastMs = 0;
  let sequence = 0;

  const onConnection = (socket: Socket) => {
    const { nsp } = socket;
    const room = nsp.name === '/' ? DEFAULT_ROOM : nsp.name.slice(1);
    const name = `guest-${Math.random().toString(16).slice(2, 6)}`;
    const history = histories.get(room) ?? [];
    histories.set(room, history);
    const notice = (kind: 'join' | 'leave', text: string) =>
      nsp.to(room).emit('notice', { kind, text, name, online: nsp.sockets.size, at: Date.now() });

    socket.join(room);
    socket.emit('history', history);
    notice('join', JOIN_TEXT);

    socket.on('chat', (text: unknown) => {
      if (typeof text !== 'string') return;
      const at = Date.now();
      sequence = at > lastMs ? 0 : sequence + 1;
      lastMs = Math.max(lastMs, at);
      const message: ChatMessage = { id: `${lastMs}-${sequence}`, text, name, at };
      history.push(message);
      if (history.length > 50) history.shift();
      nsp.to(room).emit('chat', message);
    });
    socket.on('disconnect', () => notice('leave', LEAVE_TEXT));
  };
  io.on('connection', onConnection);
  io.of(/^\/[\w.-]+$/).on('connection', onConnection);

  return new Promise((resolve) => {
    httpServer.listen(port, '127.0.0.1', () => resolve((httpServer.address() as AddressInfo).port));
  });
}
