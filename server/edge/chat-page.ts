import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import express, { Router } from 'express';

/**
 * The package root, found from this file whether it runs from source (server/) or from
 * the build (dist/server/).
 */
function packageRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

const ROOT = packageRoot();
/** index.html and chat.css, as written. */
const PAGE_DIR = join(ROOT, 'client', 'web');
/** The page's TypeScript compiled for the browser by tsconfig.web.json (`npm run build`). */
const SCRIPT_DIR = join(ROOT, 'dist', 'web');

/**
 * The page loads only its own files and talks only to this server. Even if text were ever
 * inserted as HTML by mistake, an injected inline script or event handler would not run.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** GET /chat: the browser chat page, its stylesheet and its compiled scripts. */
export function chatPage(): Router {
  const router = Router();
  router.use('/chat', (_req, res, next) => {
    res.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  router.get('/chat', (_req, res) => res.sendFile(join(PAGE_DIR, 'index.html')));
  router.get('/chat/chat.css', (_req, res) => res.sendFile(join(PAGE_DIR, 'chat.css')));
  router.use('/chat/js', express.static(SCRIPT_DIR, { index: false }));
  return router;
}
