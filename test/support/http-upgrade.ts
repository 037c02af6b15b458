import { request } from 'node:http';

/** RFC 6455's sample handshake key: any 16 bytes in base64 will do for these tests. */
export const HANDSHAKE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** The headers of a WebSocket upgrade request, as a client sends them. */
export const UPGRADE_HEADERS: Readonly<Record<string, string>> = {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Version': '13',
  'Sec-WebSocket-Key': HANDSHAKE_KEY,
};

/**
 * Sends a bare WebSocket upgrade request and reports the HTTP status the server answered
 * with (101 when it accepted). Lets a test see the exact refusal a browser would get.
 */
export function upgradeStatus(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), {
      headers: { ...UPGRADE_HEADERS, ...headers },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A plain HTTP GET with chosen headers (fetch would not let a test set Origin freely). */
export function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}
