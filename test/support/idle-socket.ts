import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { onCleanup } from './cleanup';

/** What a connection that the server closed got from it. */
export interface ServerClosed {
  /** Everything the server sent, as latin1 text. */
  readonly received: string;
  /** From the client's connect to the server's close. */
  readonly afterMs: number;
}

/** A client connection that sends what the test makes it send, and records what comes back. */
export interface IdleSocket {
  readonly socket: Socket;
  /** Resolves once the TCP connection (over TLS: the TLS handshake) is up. */
  readonly connected: Promise<void>;
  /** Resolves once the server has closed the connection. */
  readonly closed: Promise<ServerClosed>;
  /** True until `closed` has resolved. */
  isOpen(): boolean;
}

export interface IdleSocketOptions {
  /** Connect from this loopback address (127.0.0.2, ...). */
  localAddress?: string;
  /** Do the TLS handshake, trusting this certificate, and then send nothing. */
  tlsCa?: Buffer;
}

/**
 * Opens a TCP connection to `baseUrl`'s port (with `tlsCa`, a TLS one) and sends nothing:
 * a peer that holds a connection without ever making it a request. Its errors (the server
 * may reset it) only end it.
 */
export function openIdleSocket(baseUrl: string, options: IdleSocketOptions = {}): IdleSocket {
  const { hostname, port } = new URL(baseUrl);
  const target = { host: hostname, port: Number(port), ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) };
  const socket: Socket = options.tlsCa === undefined ? connect(target) : connectTls({ ...target, ca: options.tlsCa, servername: 'localhost' });
  onCleanup('clients', () => socket.destroy());
  let open = true;
  let connectedAt = Date.now();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const connected = new Promise<void>((resolve, reject) => {
    socket.once(options.tlsCa === undefined ? 'connect' : 'secureConnect', () => {
      connectedAt = Date.now();
      resolve();
    });
    socket.once('close', () => reject(new Error('closed before it connected')));
  });
  connected.catch(() => undefined);
  const closed = new Promise<ServerClosed>((resolve) => {
    socket.once('close', () => {
      open = false;
      resolve({ received: Buffer.concat(chunks).toString('latin1'), afterMs: Date.now() - connectedAt });
    });
  });
  return { socket, connected, closed, isOpen: () => open };
}

/** The status line of an HTTP answer (`HTTP/1.1 408 Request Timeout`), or '' for none. */
export function statusLine(received: string): string {
  return received.split('\r\n')[0] ?? '';
}
