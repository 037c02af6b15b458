import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { onCleanup } from './cleanup';
import { EventQueue } from './event-queue';
import { FrameReader, maskedFrame, Opcode } from '../../tools/ws-frames';
import { HANDSHAKE_KEY } from './http-upgrade';

/**
 * A bare TCP peer that completes the WebSocket handshake on `path` and then does whatever
 * the test makes it do, byte by byte: stop reading, send half a frame, vanish.
 */
export function tcpWebSocketPeer(baseUrl: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  onCleanup('clients', () => socket.destroy());
  socket.on('error', () => undefined); // the server may cut it; that is what some tests want
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${HANDSHAKE_KEY}\r\n\r\n`,
  );
  return new Promise((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.pause();
      if (head.startsWith('HTTP/1.1 101')) resolve(socket);
      else reject(new Error(`handshake refused: ${head.split('\r\n')[0]}`));
    };
    socket.on('data', onData);
  });
}

export { Opcode } from '../../tools/ws-frames';

/** A masked client frame (RFC 6455 5.3: clients must mask), for peers that write by hand. */
export const clientFrame = maskedFrame;

/** A masked client text frame. */
export function clientTextFrame(text: string): Buffer {
  return clientFrame(Opcode.Text, Buffer.from(text, 'utf8'));
}

/** A masked client close frame with a status code (1000: normal closure). */
export function clientCloseFrame(code = 1000): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return clientFrame(Opcode.Close, payload);
}

export interface EngineClientOptions {
  auth?: Record<string, unknown>;
  /** Answer the server's pings (Engine.IO "2") with pongs ("3"); a dead peer does not. */
  answerPings?: boolean;
}

/**
 * A thin Socket.IO client speaking Engine.IO v4 over a plain `ws`: handshake, "40" to
 * join the main namespace, then raw packets in both directions. It lets a test send what
 * socket.io-client never would (malformed packets) and misbehave on purpose.
 */
export async function connectEngineClient(baseUrl: string, options: EngineClientOptions = {}) {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  onCleanup('clients', () => ws.terminate());
  const packets = new EventQueue<string>('engine client');
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('error', () => undefined);
  ws.on('message', (data) => {
    const packet = String(data);
    if (packet === '2' && options.answerPings !== false) ws.send('3');
    else packets.push(packet);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const open = await packets.next();
  if (!open.startsWith('0')) throw new Error(`expected an Engine.IO open packet, got ${open}`);
  ws.send(`40${JSON.stringify(options.auth ?? {})}`);
  const connected = await packets.next();
  if (!connected.startsWith('40')) throw new Error(`namespace refused: ${connected}`);
  return { ws, packets, closed };
}

/**
 * The text of every frame the server sends to a peer from tcpWebSocketPeer, as read off
 * the wire. Resumes the paused socket.
 */
export function serverTextFrames(socket: Socket): string[] {
  const texts: string[] = [];
  const reader = new FrameReader(
    (_opcode, payload) => texts.push(payload.toString('utf8')),
    (message) => socket.destroy(new Error(message)),
  );
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.resume();
  return texts;
}
