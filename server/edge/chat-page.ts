import { join } from 'node:path';
import express, { Router } from 'express';
import { PACKAGE_ROOT, SCRIPT_DIR } from './page-files';

/** index.html and chat.css, as written. */
const PAGE_DIR = join(PACKAGE_ROOT, 'client', 'web');

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
