/**
 * Teardown registered the moment something is opened, run after each test in a fixed
 * order: clients first, then servers. Jest runs separate afterEach hooks in an order that
 * depends on import order; a server closed under a live long-polling client makes that
 * client retry after the test environment is gone.
 */
type Cleanup = () => unknown;

const phases = { clients: new Set<Cleanup>(), servers: new Set<Cleanup>() };

export function onCleanup(phase: keyof typeof phases, cleanup: Cleanup): () => void {
  phases[phase].add(cleanup);
  return () => phases[phase].delete(cleanup);
}

afterEach(async () => {
  for (const phase of [phases.clients, phases.servers]) {
    const cleanups = [...phase];
    phase.clear();
    await Promise.all(cleanups.map((cleanup) => cleanup()));
  }
});
