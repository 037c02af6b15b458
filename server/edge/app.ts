import express, { type Express, type RequestHandler } from 'express';
import { bearerMatches } from './bearer';
import { servePage } from './pages';
import type { Metrics } from '../support/metrics';
import { HELLO_TEXT, RAW_PATH } from '../protocol';

export { bearerMatches } from './bearer';

export interface AppOptions {
  /** False while shutting down: load balancers should stop sending new clients here. */
  isReady: () => boolean;
  /** Why not, for the 503 body; "shutting down" when absent. */
  notReadyText?: () => string;
  metrics: Metrics;
  /** null: /metrics is open to anyone who can reach the port. */
  metricsToken?: string | null;
  /** The HTTP API (edge/api), mounted at /api. */
  api?: RequestHandler;
}

/** The plain HTTP routes. Socket.IO's engine intercepts its own path before these run. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/', (_req, res) => {
    res.type('text/html').send(HELLO_TEXT);
  });

  app.use(servePage('/chat', 'web', 'chat.css'));
  app.use(servePage('/admin', 'admin', 'admin.css'));

  // A plain GET on the WebSocket endpoint (a browser tab, curl): say what it is rather
  // than a bare 404. Real handshakes never get here, they are upgrades. `req.secure`: this
  // server's own TLS (X-Forwarded-Proto is not trusted: behind a proxy the note below says it).
  app.get([RAW_PATH, `${RAW_PATH}/:room`], (req, res) => {
    const url = `${req.secure ? 'wss' : 'ws'}://${req.headers.host ?? 'localhost:8000'}${req.path}`;
    res
      .status(426)
      .set('Upgrade', 'websocket')
      .set('X-Content-Type-Options', 'nosniff')
      .type('text/plain')
      .send(
        `${req.path} is a WebSocket endpoint: connect with a WebSocket client, e.g. new WebSocket(${JSON.stringify(url)})${req.secure ? '' : ' (wss:// behind TLS)'}\n`,
      );
  });

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  app.get('/readyz', (_req, res) => {
    if (options.isReady()) res.type('text/plain').send('ready\n');
    else res.status(503).type('text/plain').send(`${options.notReadyText?.() ?? 'shutting down'}\n`);
  });

  if (options.api !== undefined) app.use('/api', options.api);

  const metricsToken = options.metricsToken ?? null;
  app.get('/metrics', async (req, res) => {
    if (metricsToken !== null && !bearerMatches(req.headers.authorization, metricsToken)) {
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer realm="metrics"')
        .type('text/plain')
        .send('/metrics needs the header Authorization: Bearer <METRICS_TOKEN>\n');
      return;
    }
    const { contentType, body } = await options.metrics.render();
    res.type(contentType).send(body);
  });

  return app;
}
