import express, { type Express } from 'express';
import { chatPage } from './chat-page';
import type { Metrics } from './metrics';
import { HELLO_TEXT } from './protocol';

export interface AppOptions {
  /** False while shutting down: load balancers should stop sending new clients here. */
  isReady: () => boolean;
  /** Why not, for the 503 body; "shutting down" when absent. */
  notReadyText?: () => string;
  metrics: Metrics;
}

/** The plain HTTP routes. Socket.IO's engine intercepts its own path before these run. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/', (_req, res) => {
    res.type('text/html').send(HELLO_TEXT);
  });

  app.use(chatPage());

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  app.get('/readyz', (_req, res) => {
    if (options.isReady()) res.type('text/plain').send('ready\n');
    else res.status(503).type('text/plain').send(`${options.notReadyText?.() ?? 'shutting down'}\n`);
  });

  app.get('/metrics', async (_req, res) => {
    const { contentType, body } = await options.metrics.render();
    res.type(contentType).send(body);
  });

  return app;
}
