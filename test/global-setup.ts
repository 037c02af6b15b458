import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Compiles the chat page's TypeScript for the browser (dist/web, what the server serves at
 * /chat/js), so that the page the tests open is the page in the source tree, even when jest
 * runs without `npm run build` first.
 */
export default function buildChatPage(): void {
  const root = join(__dirname, '..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.web.json')], {
    cwd: root,
    stdio: 'inherit',
  });
}
