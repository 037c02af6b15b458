import { spawnSync } from 'node:child_process';

/**
 * Some tests play several clients from several loopback addresses (127.0.0.2, 127.0.0.3)
 * to the per-address caps. That works on Linux only: Linux answers the whole of
 * 127.0.0.0/8 on `lo`, while macOS, the BSDs and Windows have only 127.0.0.1 unless an
 * alias is added (macOS: `sudo ifconfig lo0 alias 127.0.0.2 up`, and .3 likewise).
 *
 * Whether this machine can: a child process tries to bind both addresses (synchronously,
 * because jest must know at collection time which tests to skip).
 */
function canBind(addresses: readonly string[]): boolean {
  const script = `
    const net = require('node:net');
    const bind = (host) => new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, host, () => server.close(resolve));
    });
    Promise.all(${JSON.stringify(addresses)}.map(bind)).then(() => process.exit(0), () => process.exit(1));`;
  return spawnSync(process.execPath, ['-e', script], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

export const LOOPBACK_ALIASES = ['127.0.0.2', '127.0.0.3'] as const;

export const LOOPBACK_ALIASES_BINDABLE = canBind(LOOPBACK_ALIASES);

export const LOOPBACK_ALIASES_MISSING =
  `cannot bind ${LOOPBACK_ALIASES.join(' and ')} here (Linux has all of 127.0.0.0/8 on lo; ` +
  'elsewhere add loopback aliases, e.g. macOS: sudo ifconfig lo0 alias 127.0.0.2 up)';

/**
 * `describe` for tests that connect from 127.0.0.2 or 127.0.0.3: where those cannot be
 * bound they are skipped, with a warning that says why.
 */
export function describeWithLoopbackAliases(name: string, body: () => void): void {
  if (LOOPBACK_ALIASES_BINDABLE) {
    describe(name, body);
    return;
  }
  console.warn(`skipping "${name}": ${LOOPBACK_ALIASES_MISSING}`);
  describe.skip(name, body);
}

/** `it` for one test that connects from 127.0.0.2 or 127.0.0.3 (see describeWithLoopbackAliases). */
export function itWithLoopbackAliases(name: string, body: () => Promise<void>, timeoutMs?: number): void {
  if (LOOPBACK_ALIASES_BINDABLE) {
    it(name, body, timeoutMs);
    return;
  }
  console.warn(`skipping "${name}": ${LOOPBACK_ALIASES_MISSING}`);
  it.skip(name, body);
}
