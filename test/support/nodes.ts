import { connectRaw, type RawTestClient } from './raw-client';
import { eventually } from './room-log';
import { connectSio, type SioTestClient } from './sio-client';
import { spawnServer, type SpawnedServer } from './spawn-server';

/** Several server processes compiling at once on a busy machine start slowly. */
export const MULTI_PROCESS_START_MS = 40_000;

/**
 * Starts `count` server processes with the same settings (a REDIS_URL, usually) and
 * resolves once each one's events reach every other: the adapters subscribe and start
 * reading their stream a moment after the server listens.
 */
export async function startNodes(count: number, env: Record<string, string>): Promise<SpawnedServer[]> {
  const nodes = await Promise.all(Array.from({ length: count }, () => spawnServer(env, MULTI_PROCESS_START_MS)));
  await linked(nodes.map((node) => node.url));
  return nodes;
}

/**
 * Waits until a join on any of `urls` is announced to raw and Socket.IO clients on all
 * the others. The probes' own notices are drained before this returns.
 */
export async function linked(urls: readonly string[]): Promise<void> {
  const listeners: { raw: RawTestClient; sio: SioTestClient }[] = [];
  for (const url of urls) {
    listeners.push({
      raw: await connectRaw(url, { name: 'listener', format: 'json' }),
      sio: await connectSio(url, { auth: { name: 'listener' } }),
    });
  }
  const deadline = Date.now() + 10_000;
  for (const [index, url] of urls.entries()) {
    const others = listeners.filter((_, i) => i !== index);
    for (;;) {
      const name = `probe-${index}`;
      const probe = await connectRaw(url, { name });
      const heard = await eventually(
        () => others.every(({ raw, sio }) => raw.messages.pending.some((m) => m.includes(`"${name}"`)) && sio.notices.pending.some((n) => n.name === name)),
        `a join on ${url} announced on every other node`,
        500,
      ).then(
        () => true,
        () => false,
      );
      await probe.close();
      if (heard) break;
      if (Date.now() > deadline) throw new Error(`node ${url} is not linked to the others`);
    }
  }
  for (const { raw, sio } of listeners) {
    sio.socket.disconnect();
    await raw.close();
  }
  // Lets the probes' and listeners' leave notices (and counts) reach every node before a
  // test's first client arrives.
  await new Promise((resolve) => setTimeout(resolve, 300));
}
