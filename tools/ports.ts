import { createServer, type AddressInfo } from 'node:net';

/**
 * A loopback port that nothing listens on: taken from the OS, then let go. (Another
 * process could take it in between; on a test machine that is rare enough.) In tools/
 * so that the tests, the benchmark and redis-process.ts share the one copy.
 */
export async function unusedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
