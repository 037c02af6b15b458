/**
 * Teardown registered the moment something is opened, run in a fixed order: clients
 * first, then servers. Jest runs separate afterEach hooks in an order that depends on
 * import order; a server closed under a live long-polling client makes that client retry
 * after the test environment is gone.
 *
 * What a test opens is closed after that test; what a beforeAll opens (no test is
 * running yet) is closed after the whole file.
 */
type Cleanup = () => unknown;
type Phases = { clients: Set<Cleanup>; servers: Set<Cleanup> };

const newPhases = (): Phases => ({ clients: new Set(), servers: new Set() });
const perTest = newPhases();
const perFile = newPhases();

export function onCleanup(phase: keyof Phases, cleanup: Cleanup): () => void {
  const scope = expect.getState().currentTestName === undefined ? perFile : perTest;
  scope[phase].add(cleanup);
  return () => scope[phase].delete(cleanup);
}

async function runAll(scope: Phases): Promise<void> {
  for (const phase of [scope.clients, scope.servers]) {
    const cleanups = [...phase];
    phase.clear();
    await Promise.all(cleanups.map((cleanup) => cleanup()));
  }
}

afterEach(() => runAll(perTest));
afterAll(() => runAll(perFile));
