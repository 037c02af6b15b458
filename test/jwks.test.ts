/**
 * JWT_JWKS_URL when its endpoint misbehaves: an outage (hanging, failing) past the key
 * set's max age and up to the stale bound, the backoff after failed fetches, and a key
 * set too large to read. Time is the subject here: Date alone is faked and jumps ahead
 * (ages, cooldowns, backoff); every timer, socket and fetch timeout stays real.
 */
import type { RunningServer } from '../server/process/server';
import { createLogger } from '../server/support/logger';
import { upgradeStatus } from './support/http-upgrade';
import { jwksKey, signToken, startJwksServer, type JwksServer } from './support/jwt';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';
import { waitUntil } from './support/wait';

/** The bounds docs/authentication.md documents. */
const MAX_AGE_MS = 10 * 60_000;
const STALE_LIMIT_MS = 24 * 3600_000;
const COOLDOWN_MS = 10_000;
const BACKOFF_MAX_MS = 5 * 60_000;
const MAX_KEY_SET_BYTES = 1024 * 1024;

/** Short, so that a handshake held up by a fetch shows: a real timer. */
const FETCH_TIMEOUT_MS = 1_000;

const REAL_TIMERS = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;

beforeEach(() => jest.useFakeTimers({ doNotFake: [...REAL_TIMERS], advanceTimers: true }));
afterEach(() => jest.useRealTimers());

/** Moves Date (and only Date) `ms` ahead. */
function jump(ms: number): void {
  jest.setSystemTime(Date.now() + ms);
}

type Signer = Awaited<ReturnType<typeof jwksKey>>;

interface LogEntry {
  msg?: string;
  reason?: string;
  failures?: number;
  retryInMs?: number;
}

interface Setup {
  jwks: JwksServer;
  server: RunningServer;
  /** The server's log lines with message `msg`, so far. */
  logged: (msg: string) => LogEntry[];
  /** The `reason` of every raw token refusal logged so far. */
  refusals: () => string[];
}

/** A JWKS endpoint publishing `keys`, and a server verifying against it, its log kept. */
async function setUp(keys: Signer[]): Promise<Setup> {
  const jwks = await startJwksServer();
  jwks.publish(keys.map((key) => key.jwk));
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
  const server = await startTestServer({ JWT_JWKS_URL: jwks.url }, { logger, jwks: { timeoutMs: FETCH_TIMEOUT_MS } });
  const logged = (msg: string) => lines.map((line) => JSON.parse(line) as LogEntry).filter((entry) => entry.msg === msg);
  const refusals = () => logged('upgrade refused: token').map((entry) => entry.reason ?? '');
  return { jwks, server, logged, refusals };
}

/** The raw upgrade's status for a token signed by `key` under its own kid (or `kid`). */
async function rawStatus(server: RunningServer, key: Signer, kid = key.jwk.kid ?? ''): Promise<number> {
  const token = await signToken(key, { sub: `user-${kid}` }, { kid });
  return upgradeStatus(server.url, `/socket?token=${token}`);
}

/** 'connected', or the connect_error message. */
async function sioOutcome(server: RunningServer, key: Signer): Promise<string> {
  try {
    await connectSio(server.url, { auth: { token: await signToken(key, { sub: 'sio' }, { kid: key.jwk.kid ?? '' }) } });
    return 'connected';
  } catch (err) {
    return (err as Error).message;
  }
}

/** Real time (Date jumps), for how long a handshake waited. */
const realNow = () => performance.now();

describe('JWKS endpoint outage', () => {
  it('keeps using the last good key set past its max age: known keys get in at once while the endpoint hangs or fails, and a refresh runs in the background', async () => {
    const known = await jwksKey('ES256', 'known');
    const { jwks, server } = await setUp([known]);
    expect(await rawStatus(server, known)).toBe(101);
    expect(jwks.requests).toBe(1);

    jump(MAX_AGE_MS + 60_000);
    jwks.hang = true;
    const started = realNow();
    expect(await rawStatus(server, known)).toBe(101);
    expect(await sioOutcome(server, known)).toBe('connected');
    expect(realNow() - started).toBeLessThan(FETCH_TIMEOUT_MS);
    // One refresh for both handshakes, given up after the fetch timeout.
    await waitUntil(() => jwks.outcomes.length === 2, 'the hung refresh to be given up');
    expect([jwks.requests, jwks.outcomes]).toEqual([2, ['finished', 'cut']]);

    // An hour on, the endpoint answers 500.
    jwks.hang = false;
    jwks.failWith = 500;
    jump(3600_000);
    expect(await rawStatus(server, known)).toBe(101);
    expect(await sioOutcome(server, known)).toBe('connected');
    await waitUntil(() => jwks.outcomes.length === 3, 'the failing refresh');
    expect(jwks.requests).toBe(3);

    // Back, with a new key: a known token's refresh in the background brings it.
    const added = await jwksKey('RS256', 'added');
    jwks.failWith = null;
    jwks.publish([known.jwk, added.jwk]);
    jump(BACKOFF_MAX_MS);
    expect(await rawStatus(server, known)).toBe(101);
    await waitUntil(() => jwks.outcomes.length === 4, 'the refresh after the outage');
    expect(await rawStatus(server, added)).toBe(101);
    expect(jwks.requests).toBe(4);
  });

  it(`uses the last good key set for at most ${STALE_LIMIT_MS / 3600_000} h after its fetch: then refuses as keys_unavailable until a fetch succeeds`, async () => {
    const known = await jwksKey('EdDSA', 'known');
    const { jwks, server, refusals } = await setUp([known]);
    expect(await rawStatus(server, known)).toBe(101);
    jwks.failWith = 503;

    jump(STALE_LIMIT_MS - 3600_000);
    expect(await rawStatus(server, known)).toBe(101);
    jump(2 * 3600_000);
    expect(await rawStatus(server, known)).toBe(401);
    expect(refusals()).toEqual(['keys_unavailable']);
    // The next one within the backoff: refused at once, no fetch.
    const fetches = jwks.requests;
    expect(await rawStatus(server, known)).toBe(401);
    expect(jwks.requests).toBe(fetches);
    expect(refusals()).toEqual(['keys_unavailable', 'keys_unavailable']);

    jwks.failWith = null;
    jump(BACKOFF_MAX_MS);
    expect(await rawStatus(server, known)).toBe(101);
  });
});

describe('JWKS fetch backoff', () => {
  it('after a failed fetch, refuses unknown kids at once instead of fetching again, waiting from the cooldown doubling up to 5 minutes', async () => {
    const known = await jwksKey('ES256', 'known');
    const { jwks, server, logged, refusals } = await setUp([known]);
    expect(await rawStatus(server, known)).toBe(101);
    jwks.failWith = 500;
    jump(COOLDOWN_MS + 1_000);

    // One at a time, each after the previous one's answer: no fetch to share.
    const strangers = await Promise.all(Array.from({ length: 40 }, (_, i) => jwksKey('ES256', `stranger-${i}`)));
    const statuses: number[] = [];
    for (const stranger of strangers) statuses.push(await rawStatus(server, stranger));
    expect(statuses).toEqual(Array(40).fill(401));
    expect(jwks.requests).toBe(2);
    expect(refusals()).toEqual(['keys_unavailable', ...Array(39).fill('unknown_key')]);

    // Failures so far: 1. Each wait is twice the last, from the cooldown, up to 5 minutes.
    let fetches = 2;
    for (const wait of [COOLDOWN_MS, 2 * COOLDOWN_MS, 4 * COOLDOWN_MS, 8 * COOLDOWN_MS, 16 * COOLDOWN_MS, BACKOFF_MAX_MS, BACKOFF_MAX_MS]) {
      jump(wait - 1_000);
      expect(await rawStatus(server, known, 'stranger-0')).toBe(401);
      expect([wait, jwks.requests]).toEqual([wait, fetches]);
      jump(1_000);
      expect(await rawStatus(server, known, 'stranger-0')).toBe(401);
      fetches += 1;
      expect([wait, jwks.requests]).toEqual([wait, fetches]);
    }
    // The known key got in all along; each failure was logged with the wait after it.
    expect(await rawStatus(server, known)).toBe(101);
    expect(logged('JWKS fetch failed').map((entry) => [entry.failures, entry.retryInMs])).toEqual(
      [COOLDOWN_MS, 2 * COOLDOWN_MS, 4 * COOLDOWN_MS, 8 * COOLDOWN_MS, 16 * COOLDOWN_MS, BACKOFF_MAX_MS, BACKOFF_MAX_MS, BACKOFF_MAX_MS].map(
        (wait, i) => [i + 1, wait],
      ),
    );

    // Back: the next fetch may come after the wait, and a success resets it to the cooldown.
    const rotated = await jwksKey('ES256', 'rotated');
    jwks.failWith = null;
    jwks.publish([known.jwk, rotated.jwk]);
    jump(BACKOFF_MAX_MS);
    expect(await rawStatus(server, rotated)).toBe(101);
    expect(jwks.requests).toBe(fetches + 1);
    expect(logged('JWKS fetched again')).toHaveLength(1);
    expect(await rawStatus(server, strangers[1] as Signer)).toBe(401);
    expect(jwks.requests).toBe(fetches + 1);
    jump(COOLDOWN_MS + 1_000);
    expect(await rawStatus(server, strangers[1] as Signer)).toBe(401);
    expect(jwks.requests).toBe(fetches + 2);
  });
});

describe('JWKS size cap', () => {
  it.each([
    ['chunked', false],
    ['with its Content-Length', true],
  ])(`stops reading a key set over ${MAX_KEY_SET_BYTES} bytes (%s) and counts it a failed fetch; one at the cap is read`, async (_how, declared) => {
    const known = await jwksKey('ES256', 'known');
    const { jwks, server, refusals } = await setUp([known]);
    jwks.padTo = { bytes: 32 * MAX_KEY_SET_BYTES, declared };
    expect(await rawStatus(server, known)).toBe(401);
    expect(refusals()).toEqual(['keys_unavailable']);
    await waitUntil(() => jwks.outcomes.length === 1, 'the oversized response to end');
    expect(jwks.outcomes).toEqual(['cut']);

    jwks.padTo = { bytes: MAX_KEY_SET_BYTES, declared };
    jump(COOLDOWN_MS);
    expect(await rawStatus(server, known)).toBe(101);
    expect(jwks.outcomes).toEqual(['cut', 'finished']);
  });
});
