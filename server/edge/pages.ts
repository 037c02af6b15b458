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

const PACKAGE_ROOT = packageRoot();

/** The pages' TypeScript compiled for the browser by tsconfig.web.json (`npm run build`). */
const SCRIPT_DIR = join(PACKAGE_ROOT, 'dist', 'web');

/**
 * A page loads only its own files and talks only to this server. Even if text were ever
 * inserted as HTML by mistake, an injected inline script or event handler would not run;
 * and no other site may frame it, so none can lay its buttons under a decoy.
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
 * GET `path`: a page of `client/<dir>` (its index.html and `stylesheet`, as written), and
 * its compiled scripts under `path`/js. /chat is `client/web`; /admin, the API key
 * holder's page, is `client/admin` (it holds no secret: it asks for the key).
 */
export function servePage(path: '/chat' | '/admin', dir: 'web' | 'admin', stylesheet: string): Router {
  const pageDir = join(PACKAGE_ROOT, 'client', dir);
  const router = Router();
  router.use(path, (_req, res, next) => {
    res.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  router.get(path, (_req, res) => res.sendFile(join(pageDir, 'index.html')));
  router.get(`${path}/${stylesheet}`, (_req, res) => res.sendFile(join(pageDir, stylesheet)));
  router.use(`${path}/js`, express.static(SCRIPT_DIR, { index: false }));
  return router;
}
