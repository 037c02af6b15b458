import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { JOIN_TEXT, LEAVE_TEXT, type ChatMessage } from '../../server/protocol';

/**
 * Baseline: the Socket.IO chat a user writes from the socket.io "get started" tutorial,
 * with the same events and shapes as ours: `history` to the newcomer, `notice` for every
 * join and leave, and `io.emit('chat', ...)` for every message. Default options.
 */
export function startSocketIoEmit(port: number): Promise<number> {
  const httpServer = createServer();
  const io = new Server(httpServer);
  const history: ChatMessage[] = [];
  let lastMs = 0;
  let sequence = 0;

  io.on('connection', (socket) => {
    const name = `guest-${Math.random().toString(16).slice(2, 6)}`;
    const notice = (kind: 'join' | 'leave', text: string) =>
      io.emit('notice', { kind, text, name, online: io.engine.clientsCount, at: Date.now() });

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
      io.emit('chat', message);
    });
    socket.on('disconnect', () => notice('leave', LEAVE_TEXT));
  });

  return new Promise((resolve) => {
    httpServer.listen(port, '127.0.0.1', () => resolve((httpServer.address() as AddressInfo).port));
  });
}
