import { FloodControl, type Budget } from '../server/room/flood-control';
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

  it('lets something larger than its capacity through once full, as a debt the refill pays first', () => {
    let now = 0;
    const bucket = new TokenBucket(100, 100, () => now, Number.NEGATIVE_INFINITY);
    expect(bucket.canTake(250)).toBe(true);
    bucket.spend(250);
    expect(bucket.canTake(1)).toBe(false);
    now += 1_500; // 150 back: the debt of 150 is paid, nothing more
    expect(bucket.canTake(1)).toBe(false);
    now += 10;
    expect(bucket.canTake(1)).toBe(true);
  });
});

describe('flood control per address', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 0));
  const messagesOnly = { byteRate: 0, byteBurst: 1 };
  const sendAll = (budget: Budget | null, count: number, bytes = 1) => Array.from({ length: count }, () => budget?.take(bytes));

  it('draws a new connection’s burst from its address, so reconnecting does not refill it', () => {
    const flood = new FloodControl({ rateLimit: 10, rateBurst: 3, ...messagesOnly }, clock);
    const first = flood.open('1.2.3.4');
    expect(sendAll(first, 4)).toEqual([true, true, true, false]);
    flood.close(first);
    const second = flood.open('1.2.3.4');
    expect(second?.take(1)).toBe(false);
    now += 100; // one token back at 10/s
    expect(sendAll(second, 2)).toEqual([true, false]);
  });

  it('gives connections open at the same time one burst between them, whatever order they close in', () => {
    const flood = new FloodControl({ rateLimit: 10, rateBurst: 2, ...messagesOnly }, clock);
    const spent = flood.open('1.2.3.4');
    const overlapping = flood.open('1.2.3.4'); // opened before the first one's close was seen
    expect(sendAll(spent, 2)).toEqual([true, true]);
    expect(overlapping?.take(1)).toBe(false);
    flood.close(spent);
    expect(flood.open('5.6.7.8')?.take(1)).toBe(true); // another address has its own
  });

  it('lets connections that have been open a while send at their own rate, however many share the address', () => {
    const flood = new FloodControl({ rateLimit: 10, rateBurst: 2, ...messagesOnly }, clock);
    const ann = flood.open('1.2.3.4');
    const bob = flood.open('1.2.3.4');
    now += 200; // each earned its two
    expect([...sendAll(ann, 2), ...sendAll(bob, 2)]).toEqual([true, true, true, true]);
  });

  it('holds nothing back for a connection that sends nothing', () => {
    const flood = new FloodControl({ rateLimit: 10, rateBurst: 3, ...messagesOnly }, clock);
    flood.open('1.2.3.4');
    expect(sendAll(flood.open('1.2.3.4'), 4)).toEqual([true, true, true, false]);
  });

  it('keeps a steady sender’s rate owed to its address, so leaving and coming back gives no new burst', () => {
    const flood = new FloodControl({ rateLimit: 10, rateBurst: 2, ...messagesOnly }, clock);
    const steady = flood.open('1.2.3.4');
    expect(sendAll(steady, 2)).toEqual([true, true]);
    for (let i = 0; i < 20; i += 1) {
      now += 100;
      expect(steady?.take(1)).toBe(true);
    }
    flood.close(steady);
    expect(flood.open('1.2.3.4')?.take(1)).toBe(false);
  });

  it('budgets the bytes of every connection of an address together', () => {
    const flood = new FloodControl({ rateLimit: 1000, rateBurst: 1000, byteRate: 1000, byteBurst: 3000 }, clock);
    const a = flood.open('1.2.3.4');
    expect([a?.take(1000), a?.take(1000)]).toEqual([true, true]);
    flood.close(a);
    const b = flood.open('1.2.3.4');
    expect([b?.take(1000), b?.take(1000)]).toEqual([true, false]);
    now += 1_000;
    expect([b?.take(1000), b?.take(1)]).toEqual([true, false]);
    expect(flood.open('5.6.7.8')?.take(3000)).toBe(true);
  });

  it('forgets addresses with no connection once their budgets have refilled', () => {
    const flood = new FloodControl({ rateLimit: 10, rateBurst: 2, byteRate: 100, byteBurst: 100 }, clock);
    const spent = flood.open('1.2.3.4');
    spent?.take(50);
    flood.close(spent);
    expect(flood.size).toBe(1);
    now += 1_000; // refilled long ago; the next close sweeps
    flood.close(flood.open('5.6.7.8'));
    expect(flood.size).toBe(0);
  });

  it('is off with a rate of 0, bytes included', () => {
    expect(new FloodControl({ rateLimit: 0, rateBurst: 40, byteRate: 1, byteBurst: 1 }, clock).open('1.2.3.4')).toBeNull();
  });
});
