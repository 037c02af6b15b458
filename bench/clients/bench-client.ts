import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { FrameReader, maskedFrame, Opcode } from '../../tools/ws-frames';

/** What a bench client reports to its worker. Counting needs no decoding of the frame. */
export interface ClientEvents {
  /** A chat message arrived; `frame` is its payload, valid only during the call. */
  chat(frame: Buffer): void;
  notice(): void;
  /** Anything a well-behaved server would never cause. */
  error(message: string): void;
}

export interface BenchClient {
  sendChat(text: string): void;
  /** Drops the connection without a close handshake. */
  terminate(): void;
}

/** How one protocol rides on a WebSocket: where to connect, what frames mean, how to chat. */
export interface WireProtocol {
  /** Path and query of the WebSocket endpoint. */
  readonly path: string;
  /** Whether the client may chat once the WebSocket handshake is done (else: see onFrame). */
  readonly readyOnOpen: boolean;
  /**
   * Sorts one received text frame; `send` answers on the same socket; `ready` marks it
   * usable; `refused` drops a client that the server will not let in (before it is ready).
   */
  onFrame(frame: Buffer, events: ClientEvents, send: (text: string) => void, ready: () => void, refused: (why: string) => void): void;
  chatFrame(text: string): string;
}

/**
 * One read buffer for every client of the process: `onread` hands each read to us
 * synchronously and FrameReader copies only what it must keep, so nothing is allocated
 * per read and 5000 clients do not hold 5000 buffers.
 */
const readBuffer = Buffer.allocUnsafe(256 * 1024);
const HEADER_END = '\r\n\r\n';

/**
 * A minimal WebSocket client on a bare TCP socket: the RFC 6455 handshake, then frames.
 * It speaks `protocol` on top and resolves once the protocol says it is ready. A refused
 * handshake, an error or a close before that rejects; a close after it that the worker
 * did not ask for is reported as an error. `localAddress` is the loopback address it
 * connects from (127.0.0.2 and on): one source address has only the ephemeral port range.
 */
export function openClient(baseUrl: string, protocol: WireProtocol, events: ClientEvents, localAddress?: string): Promise<BenchClient> {
  const { hostname, port } = new URL(baseUrl);
  let handshake: string | null = '';
  let isReady = false;
  let terminated = false;
  let onReady: (client: BenchClient) => void = () => undefined;
  let onFailure: (err: Error) => void = () => undefined;

  const fail = (message: string): void => {
    if (isReady) events.error(message);
    else onFailure(new Error(message));
  };
  const socket = net.connect({
    host: hostname,
    port: Number(port),
    ...(localAddress === undefined ? {} : { localAddress }),
    // Each chat goes out at once, as with `ws` (which sets TCP_NODELAY too).
    noDelay: true,
    onread: {
      buffer: readBuffer,
      callback: (bytes: number, buffer: Uint8Array) => {
        received(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
        return true;
      },
    },
  });
  const send = (text: string): void => {
    socket.write(maskedFrame(Opcode.Text, Buffer.from(text, 'utf8')));
  };
  const client: BenchClient = {
    sendChat: (text) => send(protocol.chatFrame(text)),
    terminate: () => {
      terminated = true;
      socket.destroy();
    },
  };
  // Fails the connect at once, rather than after the worker's timeout (minutes in a full run).
  const refused = (why: string): void => {
    fail(`${baseUrl}${protocol.path}: refused: ${why}`);
    terminated = true;
    socket.destroy();
  };
  const ready = (): void => {
    if (isReady) return;
    isReady = true;
    onReady(client);
  };
  const reader = new FrameReader((opcode, payload) => {
    if (opcode === Opcode.Text) protocol.onFrame(payload, events, send, ready, refused);
    else if (opcode === Opcode.Ping) socket.write(maskedFrame(Opcode.Pong, Buffer.from(payload)));
    else if (opcode === Opcode.Close) fail(`close frame ${payload.length >= 2 ? payload.readUInt16BE(0) : ''}`);
    else if (opcode !== Opcode.Pong) fail(`unexpected opcode ${opcode}`);
  }, fail);

  function received(chunk: Buffer): void {
    if (handshake === null) {
      reader.push(chunk);
      return;
    }
    handshake += chunk.toString('latin1');
    const end = handshake.indexOf(HEADER_END);
    if (end < 0) return;
    const status = handshake.slice(0, handshake.indexOf('\r\n'));
    const rest = Buffer.from(handshake.slice(end + HEADER_END.length), 'latin1');
    handshake = null;
    if (!status.startsWith('HTTP/1.1 101')) {
      fail(`${baseUrl}${protocol.path}: handshake refused: ${status}`);
      socket.destroy();
      return;
    }
    if (protocol.readyOnOpen) ready();
    if (rest.length > 0) reader.push(rest);
  }

  socket.on('connect', () => {
    socket.write(
      `GET ${protocol.path} HTTP/1.1\r\n` +
        `Host: ${hostname}:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        'Sec-WebSocket-Version: 13\r\n\r\n',
    );
  });
  socket.on('error', (err) => fail(`socket error: ${err.message}`));
  socket.on('close', () => {
    if (!terminated) fail(isReady ? 'closed by the server' : `${baseUrl}${protocol.path}: closed before it was ready`);
  });
  return new Promise((resolve, reject) => {
    onReady = resolve;
    onFailure = reject;
  });
}
