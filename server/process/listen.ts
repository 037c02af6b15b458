import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The URL clients use for a server listening on `host`:`port` (https:// with TLS). */
export function baseUrl(host: string, port: number, tls = false): string {
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `${tls ? 'https' : 'http'}://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

/** Listens on `port` (0: any free one) and resolves with the port it got; rejects when it cannot. */
export function listen(server: HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
