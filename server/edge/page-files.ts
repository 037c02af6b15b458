import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

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

export const PACKAGE_ROOT = packageRoot();

/** The pages' TypeScript compiled for the browser by tsconfig.web.json (`npm run build`): /chat's and /admin's. */
export const SCRIPT_DIR = join(PACKAGE_ROOT, 'dist', 'web');
