import { FloodControl } from '../server/room/flood-control';
import { TokenBucket } from '../server/room/token-bucket';

describe('token bucket', () => {
  it('allows the burst at once, then the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 100; // one token at 10/s
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 10_000; // refills to the burst, not beyond
    expect(Array.from({ length: 4 }, () => bucket.take())).toEqual([true, true, true, false]);
  });
});

describe('flood control across connections', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 0));

  it('hands a closed connection’s spent bucket to the next connection from the same address', () => {
    const flood = new FloodControl(10, 3, clock);
    const first = flood.open('1.2.3.4') as TokenBucket;
    expect([first.take(), first.take(), first.take(), first.take()]).toEqual([true, true, true, false]);
    flood.close('1.2.3.4', first);
    const second = flood.open('1.2.3.4') as TokenBucket;
    expect(second.take()).toBe(false);
    now += 100; // one token back at 10/s
    expect([second.take(), second.take()]).toEqual([true, false]);
  });

  it('gives other addresses, and connections open at the same time, budgets of their own', () => {
    const flood = new FloodControl(10, 2, clock);
    const spent = flood.open('1.2.3.4') as TokenBucket;
    spent.take();
    spent.take();
    const neighbour = flood.open('1.2.3.4') as TokenBucket;
    flood.close('1.2.3.4', spent);
    expect(neighbour.take()).toBe(true);
    expect((flood.open('5.6.7.8') as TokenBucket).take()).toBe(true);
  });

  it('forgets buckets once they have refilled', () => {
    const flood = new FloodControl(10, 2, clock);
    const spent = flood.open('1.2.3.4') as TokenBucket;
    spent.take();
    flood.close('1.2.3.4', spent);
    expect(flood.addresses).toBe(1);
    now += 1_000; // refilled long ago; the next close sweeps
    const other = flood.open('5.6.7.8') as TokenBucket;
    other.take();
    flood.close('5.6.7.8', other);
    expect(flood.addresses).toBe(1);
  });

  it('is off with a rate of 0', () => {
    expect(new FloodControl(0, 40, clock).open('1.2.3.4')).toBeNull();
  });
});
