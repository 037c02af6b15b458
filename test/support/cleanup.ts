/**
 * Teardown registered the moment something is opened, run in a fixed order: clients
 * first, then servers, then the files they wrote (a directory removed while its server
 * is still closing fails with ENOTEMPTY when the server writes into it meanwhile). Jest runs separate afterEach hooks in an order that depends on
 * import order; a server closed under a live long-polling client makes that client retry
 * after the test environment is gone.
 *
 * What a test opens is closed after that test; what a beforeAll opens (no test is
 * running yet) is closed after the whole file.
 */
type Cleanup = () => unknown;
type Phases = { clients: Set<Cleanup>; servers: Set<Cleanup>; files: Set<Cleanup> };

const newPhases = (): Phases => ({ clients: new Set(), servers: new Set(), files: new Set() });
const perTest = newPhases();
const perFile = newPhases();

/**
 * Whether a test (with its beforeEach and afterEach hooks) is running. Not jest's current
 * test name: it stays set once a test has run, so a beforeAll of a describe block that runs
 * after another block's tests (as `jest --randomize` orders them) would look like a test.
 */
let inTest = false;
beforeEach(() => {
  inTest = true;
});

export function onCleanup(phase: keyof Phases, cleanup: Cleanup): () => void {
  const scope = inTest ? perTest : perFile;
  scope[phase].add(cleanup);
  return () => scope[phase].delete(cleanup);
}

async function runAll(scope: Phases): Promise<void> {
  for (const phase of [scope.clients, scope.servers, scope.files]) {
    const cleanups = [...phase];
    phase.clear();
    await Promise.all(cleanups.map((cleanup) => cleanup()));
  }
}

afterEach(async () => {
  await runAll(perTest);
  inTest = false;
});
afterAll(() => runAll(perFile));
