import { join } from 'node:path';
import express, { Router } from 'express';
import { PACKAGE_ROOT, SCRIPT_DIR } from './page-files';

/** index.html and admin.css, as written. */
const PAGE_DIR = join(PACKAGE_ROOT, 'client', 'admin');

/**
 * The page loads only its own files and talks only to this server's API; no inline script
 * or style, so text inserted as HTML by mistake could run nothing. No other site may frame
 * it, so none can lay its buttons under a decoy and have them clicked.
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

/**
 * GET /admin: the moderation page for the API key holder, its stylesheet and its compiled
 * scripts (the same build as /chat's, tsconfig.web.json). The page itself holds no
 * secret: it asks for the key and uses the HTTP API with it.
 */
export function adminPage(): Router {
  const router = Router();
  router.use('/admin', (_req, res, next) => {
    res.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  router.get('/admin', (_req, res) => res.sendFile(join(PAGE_DIR, 'index.html')));
  router.get('/admin/admin.css', (_req, res) => res.sendFile(join(PAGE_DIR, 'admin.css')));
  router.use('/admin/js', express.static(SCRIPT_DIR, { index: false }));
  return router;
}
