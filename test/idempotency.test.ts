import { IdempotencyCache, isIdempotencyKey, KEY_REUSED, postFingerprint, type Posted } from '../server/edge/api/idempotency';

const posted: Posted = { id: '1-0', at: 1 };
const same = postFingerprint('alpha', 'api', 'hello');

describe('IdempotencyCache', () => {
  it('gives a duplicate the first post’s answer while that post is still pending', async () => {
    const cache = new IdempotencyCache();
    let store: (value: Posted) => void = () => undefined;
    cache.remember('k', same, new Promise<Posted>((resolve) => (store = resolve)));
    const duplicate = cache.lookup('k', same);
    expect(duplicate).toBeDefined();
    store(posted);
    await expect(duplicate).resolves.toEqual(posted);
  });

  it('forgets a post that failed, so that a retry may post', async () => {
    const cache = new IdempotencyCache();
    const failed = Promise.reject(new Error('refused'));
    cache.remember('k', same, failed);
    await expect(cache.lookup('k', same)).rejects.toThrow('refused');
    await Promise.resolve();
    expect(cache.lookup('k', same)).toBeUndefined();
  });

  it('forgets a key after its time, and the oldest key past the bound', () => {
    let now = 0;
    const cache = new IdempotencyCache(1_000, 2, () => now);
    cache.remember('a', same, Promise.resolve(posted));
    now = 500;
    cache.remember('b', same, Promise.resolve(posted));
    cache.remember('c', same, Promise.resolve(posted));
    expect([cache.lookup('a', same), cache.lookup('b', same), cache.lookup('c', same)].map((p) => p !== undefined)).toEqual([false, true, true]);
    now = 1_600;
    expect(cache.lookup('b', same)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('tells a key remembered for another room, name or text from a repeat of the same post', () => {
    const cache = new IdempotencyCache();
    cache.remember('k', same, Promise.resolve(posted));
    expect(cache.lookup('k', postFingerprint('alpha', 'api', 'hello'))).toBeInstanceOf(Promise);
    for (const other of [postFingerprint('beta', 'api', 'hello'), postFingerprint('alpha', 'bob', 'hello'), postFingerprint('alpha', 'api', 'hello!')]) {
      expect(cache.lookup('k', other)).toBe(KEY_REUSED);
    }
    // The parts cannot run into each other: ("a", "bc") is not ("ab", "c").
    expect(postFingerprint('a', 'bc', 'x')).not.toBe(postFingerprint('ab', 'c', 'x'));
  });

  it('takes keys of 1-200 visible ASCII characters', () => {
    expect(['a', 'order-42:shipped', 'k'.repeat(200)].every(isIdempotencyKey)).toBe(true);
    expect(['', ' ', 'a b', 'k'.repeat(201), 'é', 'a\tb'].some(isIdempotencyKey)).toBe(false);
  });
});
