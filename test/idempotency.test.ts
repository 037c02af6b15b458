import { IdempotencyCache, isIdempotencyKey, type Posted } from '../server/edge/api/idempotency';

const posted: Posted = { id: '1-0', at: 1 };

describe('IdempotencyCache', () => {
  it('gives a duplicate the first post’s answer while that post is still pending', async () => {
    const cache = new IdempotencyCache();
    let store: (value: Posted) => void = () => undefined;
    cache.remember('k', new Promise<Posted>((resolve) => (store = resolve)));
    const duplicate = cache.lookup('k');
    expect(duplicate).toBeDefined();
    store(posted);
    await expect(duplicate).resolves.toEqual(posted);
  });

  it('forgets a post that failed, so that a retry may post', async () => {
    const cache = new IdempotencyCache();
    const failed = Promise.reject(new Error('refused'));
    cache.remember('k', failed);
    await expect(cache.lookup('k')).rejects.toThrow('refused');
    await Promise.resolve();
    expect(cache.lookup('k')).toBeUndefined();
  });

  it('forgets a key after its time, and the oldest key past the bound', () => {
    let now = 0;
    const cache = new IdempotencyCache(1_000, 2, () => now);
    cache.remember('a', Promise.resolve(posted));
    now = 500;
    cache.remember('b', Promise.resolve(posted));
    cache.remember('c', Promise.resolve(posted));
    expect([cache.lookup('a'), cache.lookup('b'), cache.lookup('c')].map((p) => p !== undefined)).toEqual([false, true, true]);
    now = 1_600;
    expect(cache.lookup('b')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('takes keys of 1-200 visible ASCII characters', () => {
    expect(['a', 'order-42:shipped', 'k'.repeat(200)].every(isIdempotencyKey)).toBe(true);
    expect(['', ' ', 'a b', 'k'.repeat(201), 'é', 'a\tb'].some(isIdempotencyKey)).toBe(false);
  });
});
