import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey, type LocalJWKSet } from 'jose';
import type { Logger } from 'pino';

/** How a remote key set is fetched, kept and given up on. */
export interface KeySetTiming {
  /** How long one fetch may take, its body included. */
  readonly timeoutMs: number;
  /**
   * After a good fetch, how long before a token with an unknown `kid` may cause another;
   * after a failed one, the first wait before the next.
   */
  readonly cooldownMs: number;
  /** Past this age the set is fetched again in the background, and used meanwhile. */
  readonly maxAgeMs: number;
  /** Past this age the set is no longer used: tokens are refused until a fetch succeeds. */
  readonly staleLimitMs: number;
  /** The longest wait after failed fetches (each doubles the last, from the cooldown). */
  readonly backoffMaxMs: number;
}

export const DEFAULT_KEY_SET_TIMING: KeySetTiming = {
  timeoutMs: 2_000,
  cooldownMs: 10_000,
  maxAgeMs: 10 * 60_000,
  staleLimitMs: 24 * 3600_000,
  backoffMaxMs: 5 * 60_000,
};

/** A key set larger than this is not read: identity providers publish a few KiB. */
export const MAX_KEY_SET_BYTES = 1024 * 1024;

/** No key set to verify with: never fetched, the fetch failed, or the last good one is too old. */
export class KeysUnavailable extends Error {}

/**
 * A JSON Web Key Set fetched from `url`, given to jose as its key getter (`getKey`).
 *
 * The last good set is used for up to `staleLimitMs` after its fetch, whatever the
 * endpoint does meanwhile: past `maxAgeMs` it is refreshed in the background, and a
 * token of a known key never waits. One fetch at a time. A token with a `kid` the set
 * lacks waits for a fetch (at most `timeoutMs`) only when one is under way or may start
 * now: not within `cooldownMs` of a good fetch, nor within the backoff after failed ones
 * (the cooldown, doubled at each failure, up to `backoffMaxMs`); otherwise it is refused
 * at once as an unknown key.
 */
export class RemoteKeySet {
  private keys: LocalJWKSet | null = null;
  /** When the last good fetch ended (epoch milliseconds). */
  private fetchedAt = 0;
  /** Failed fetches since the last good one. */
  private failures = 0;
  /** No fetch starts before this (cooldown or backoff). */
  private nextFetchAt = 0;
  /** The fetch under way: resolves true when it got a set, never rejects. */
  private fetching: Promise<boolean> | null = null;

  constructor(
    private readonly url: string,
    private readonly timing: KeySetTiming = DEFAULT_KEY_SET_TIMING,
    private readonly logger?: Logger,
  ) {}

  /** jose's key getter: the key for a token's header, or the error saying why there is none. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const now = Date.now();
    let keys = this.usable(now);
    if (keys === null) keys = await this.afterFetch(this.refresh(now));
    else if (now - this.fetchedAt >= this.timing.maxAgeMs) void this.refresh(now);
    try {
      return await keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      const refreshing = this.refresh(Date.now());
      if (refreshing === null) throw err;
      return (await this.afterFetch(refreshing))(header, token);
    }
  };

  /** The set if there is one young enough to use. */
  private usable(now: number): LocalJWKSet | null {
    return this.keys !== null && now - this.fetchedAt < this.timing.staleLimitMs ? this.keys : null;
  }

  /** The set `refreshing` got; KeysUnavailable when no fetch could start or it failed. */
  private async afterFetch(refreshing: Promise<boolean> | null): Promise<LocalJWKSet> {
    if (refreshing === null || !(await refreshing)) throw new KeysUnavailable('no usable JSON Web Key Set');
    const keys = this.usable(Date.now());
    if (keys === null) throw new KeysUnavailable('no usable JSON Web Key Set');
    return keys;
  }

  /** The fetch under way, or a new one when the cooldown or backoff allows; null when neither. */
  private refresh(now: number): Promise<boolean> | null {
    if (this.fetching !== null) return this.fetching;
    if (now < this.nextFetchAt) return null;
    const fetching = this.fetchOnce().finally(() => {
      this.fetching = null;
    });
    this.fetching = fetching;
    return fetching;
  }

  private async fetchOnce(): Promise<boolean> {
    let keys: LocalJWKSet;
    try {
      keys = createLocalJWKSet(await fetchKeySet(this.url, this.timing.timeoutMs));
    } catch (err) {
      this.failures += 1;
      // The exponent is capped so that a zero cooldown (tests) stays zero, not NaN.
      const waitMs = Math.min(this.timing.backoffMaxMs, this.timing.cooldownMs * 2 ** Math.min(this.failures - 1, 30));
      this.nextFetchAt = Date.now() + waitMs;
      const ageMs = this.keys === null ? null : Date.now() - this.fetchedAt;
      const fields = { err: err instanceof Error ? err.message : String(err), failures: this.failures, retryInMs: waitMs, keySetAgeMs: ageMs };
      this.logger?.warn(fields, 'JWKS fetch failed');
      return false;
    }
    this.keys = keys;
    this.fetchedAt = Date.now();
    this.nextFetchAt = this.fetchedAt + this.timing.cooldownMs;
    if (this.failures > 0) this.logger?.info({ failures: this.failures }, 'JWKS fetched again');
    this.failures = 0;
    return true;
  }
}

/**
 * GETs the key set at `url` within `timeoutMs` (the body included), reading at most
 * MAX_KEY_SET_BYTES of it: a larger one is abandoned there, unread, as a failure.
 */
async function fetchKeySet(url: string, timeoutMs: number): Promise<JSONWebKeySet> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'manual',
    headers: { accept: 'application/jwk-set+json, application/json' },
  });
  const body = response.body;
  if (response.status !== 200 || body === null) {
    await body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length'));
  if (declared > MAX_KEY_SET_BYTES) {
    await body.cancel();
    throw new Error(`${declared} bytes declared, more than ${MAX_KEY_SET_BYTES}`);
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_KEY_SET_BYTES) {
      await reader.cancel();
      throw new Error(`more than ${MAX_KEY_SET_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as JSONWebKeySet;
}
