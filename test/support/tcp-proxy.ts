import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { onCleanup } from './cleanup';

/**
 * A TCP proxy on 127.0.0.1 in front of a server, so that a test can drop one client's
 * connection while the server stays up, and keep that client away while others go on.
 */
export interface TcpProxy {
  /** The proxy's address, `http://127.0.0.1:<port>`, to give the client in place of the server's. */
  readonly url: string;
  /** Connections accepted so far, piped or held. */
  readonly accepted: number;
  /** Connections accepted and waiting for `release`. */
  readonly held: number;
  /** Resets every piped connection, both ways, as a network that fails does (no close frame). */
  cut(): void;
  /** From now on new connections are accepted but wait, their bytes unread, until `release`. */
  hold(): void;
  /** Pipes the held connections to the server, and every new one at once. */
  release(): void;
}

/** Starts a proxy to the server listening on 127.0.0.1:`port`; it is closed after the test. */
export async function startTcpProxy(port: number): Promise<TcpProxy> {
  const piped = new Set<net.Socket>();
  const waiting: net.Socket[] = [];
  let holding = false;
  let accepted = 0;

  const pipe = (client: net.Socket): void => {
    if (client.destroyed) return;
    const upstream = net.connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      piped.add(socket);
      // A reset is how a cut ends these; it is no failure of the test.
      socket.on('error', () => {});
      socket.on('close', () => {
        piped.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
    client.resume();
  };

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    accepted += 1;
    if (!holding) {
      pipe(client);
      return;
    }
    client.on('error', () => {});
    waiting.push(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup('servers', async () => {
    for (const socket of [...piped, ...waiting]) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get accepted() {
      return accepted;
    },
    get held() {
      return waiting.filter((socket) => !socket.destroyed).length;
    },
    cut: () => {
      for (const socket of [...piped]) socket.resetAndDestroy();
    },
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const client of waiting.splice(0)) pipe(client);
    },
  };
}
