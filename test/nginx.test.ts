/**
 * One node behind nginx run from the documented configuration (docs/deploy/nginx.conf),
 * set as docs/deploy/README.md sets a node behind a proxy: what the node learns of each
 * client through nginx, on each of the configuration's paths: the raw endpoint, Socket.IO
 * (over WebSocket and long-polling), and the rest (the page, the API, /healthz).
 */
import { describeWithLoopbackAliases } from './support/loopback';
import { describeWithNginx, startNginx } from './support/nginx';
import { connectRaw } from './support/raw-client';
import { connectSio } from './support/sio-client';
import { spawnServer } from './support/spawn-server';

describeWithNginx('a node behind the documented nginx', () => {
  describeWithLoopbackAliases('clients from 127.0.0.2 to 127.0.0.4', () => {
    it('gets the name clients used (ALLOWED_HOSTS) and each client\'s own address (TRUST_PROXY), on every path', async () => {
      // One connection per address: each client's address is what decides who is refused.
      const node = await spawnServer({ TRUST_PROXY: '127.0.0.1', ALLOWED_HOSTS: '127.0.0.1', MAX_CONNECTIONS_PER_IP: '1' });
      const nginx = await startNginx([Number(new URL(node.url).port)]);

      // ALLOWED_HOSTS answers 421 to any other name than the one nginx was asked for.
      const health = await fetch(`${nginx.url}/healthz`);
      expect(health.status).toBe(200);

      await connectRaw(nginx.url, {}, {}, { localAddress: '127.0.0.2' });
      await expect(connectRaw(nginx.url, {}, {}, { localAddress: '127.0.0.2' })).rejects.toThrow('HTTP 429');

      await connectSio(nginx.url, { localAddress: '127.0.0.3' });
      await expect(connectSio(nginx.url, { localAddress: '127.0.0.3' })).rejects.toThrow('HTTP 429');

      await connectSio(nginx.url, { localAddress: '127.0.0.4', transports: ['polling'] });
      await expect(connectSio(nginx.url, { localAddress: '127.0.0.4', transports: ['polling'] })).rejects.toThrow('HTTP 429');
    });
  });
});
