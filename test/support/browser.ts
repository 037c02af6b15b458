import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/**
 * Where to look for Chromium: CHROMIUM_PATH alone if it is set, otherwise Debian's
 * `chromium` package (what .ci/run installs). playwright-core never downloads a browser;
 * it drives this one.
 */
const CANDIDATES = process.env['CHROMIUM_PATH'] ? [process.env['CHROMIUM_PATH']] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const chromiumPath = CANDIDATES.find((path) => existsSync(path));
const required = process.env['REQUIRE_BROWSER'] === '1';

/**
 * As root and on a machine without network, Chromium needs no sandbox, no GPU, and none of
 * its background connections (each would fail, many at a time). Playwright adds --headless
 * and a fresh temporary profile (--user-data-dir) that it deletes on close.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface BrowserSession {
  /** A page in a context of its own (its own localStorage), closed after the test. */
  open(url: string, options?: BrowserContextOptions & { storage?: Record<string, string> }): Promise<Page>;
}

/**
 * `describe` for tests that need a real browser. With Chromium installed they run against
 * it. Without it they are skipped, saying why, unless REQUIRE_BROWSER=1 (set by .ci/run),
 * when they fail instead, so that CI cannot pass by skipping them. `launch.args`: more
 * command-line switches for this file's Chromium.
 */
export function describeWithBrowser(title: string, body: (browser: BrowserSession) => void, launch: { args?: string[] } = {}): void {
  if (chromiumPath === undefined && !required) {
    const why = `no Chromium at ${CANDIDATES.join(' or ')}; install Debian's chromium package or set CHROMIUM_PATH`;
    describe(title, () => {
      it.skip(`(skipped: ${why})`, () => {});
    });
    process.stderr.write(`\n[browser tests skipped] ${title}: ${why}\n`);
    return;
  }

  describe(title, () => {
    let browser: Browser | undefined;
    const contexts = new Set<BrowserContext>();
    /** Uncaught exceptions in any page: each one fails the test it happened in. */
    const pageErrors: string[] = [];

    beforeAll(async () => {
      if (chromiumPath === undefined) {
        throw new Error(`REQUIRE_BROWSER=1 but there is no Chromium at ${CANDIDATES.join(' or ')}`);
      }
      browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: [...CHROMIUM_ARGS, ...(launch.args ?? [])] });
    }, 60_000);

    afterEach(async () => {
      await Promise.all([...contexts].map((context) => context.close()));
      contexts.clear();
      const errors = pageErrors.splice(0);
      if (errors.length > 0) throw new Error(`uncaught errors in the page:\n${errors.join('\n')}`);
    });

    afterAll(async () => {
      await browser?.close();
    });

    body({
      async open(url, { storage, ...options } = {}) {
        if (browser === undefined) throw new Error('the browser did not start');
        const context = await browser.newContext(options);
        contexts.add(context);
        if (storage !== undefined) {
          // As if the user had been here before: set before any script of the page runs.
          await context.addInitScript({
            content: `for (const [key, value] of Object.entries(${JSON.stringify(storage)})) localStorage.setItem(key, value);`,
          });
        }
        const page = await context.newPage();
        page.on('pageerror', (err) => pageErrors.push(`${url}: ${err.message}`));
        await page.goto(url);
        return page;
      },
    });
  });
}
