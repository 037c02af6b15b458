import { ExpiryClock } from '../server/support/expiry-clock';

describe('ExpiryClock', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_700_000_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('runs each callback once its second has come, earliest first, and never a cancelled one', () => {
    const clock = new ExpiryClock();
    const ran: string[] = [];
    const now = Date.now();
    clock.add(now + 3_000, () => ran.push('c'));
    clock.add(now + 1_000, () => ran.push('a'));
    const cancelled = clock.add(now + 1_000, () => ran.push('cancelled'));
    clock.add(now + 2_000, () => ran.push('b'));
    clock.add(now + 1_000, () => ran.push('a2'));
    cancelled.cancel();
    expect(clock.size).toBe(4);

    jest.advanceTimersByTime(999);
    expect(ran).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(ran).toEqual(['a', 'a2']);
    jest.advanceTimersByTime(2_000);
    expect(ran).toEqual(['a', 'a2', 'b', 'c']);
    expect(clock.size).toBe(0);
  });

  it('re-arms for an earlier newcomer, runs past times at once, and survives a throwing callback', () => {
    const clock = new ExpiryClock();
    const ran: string[] = [];
    const now = Date.now();
    clock.add(now + 10_000, () => ran.push('late'));
    clock.add(now + 2_000, () => {
      throw new Error('boom');
    });
    clock.add(now + 2_000, () => ran.push('same second'));
    clock.add(now - 5_000, () => ran.push('past'));
    jest.advanceTimersByTime(0);
    expect(ran).toEqual(['past']);
    jest.advanceTimersByTime(2_000);
    expect(ran).toEqual(['past', 'same second']);
    clock.stop();
    jest.advanceTimersByTime(20_000);
    expect(ran).toEqual(['past', 'same second']);
  });
});

describe('ExpiryClock with times beyond what one timer can wait', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_700_000_000_000 }));
  afterEach(() => jest.useRealTimers());

  /** Node's (and the fake timers') longest delay: a longer one is taken as 1 ms. */
  const LONGEST_DELAY_MS = 2 ** 31 - 1;

  it('waits the longest delay a timer allows, runs nothing when it fires early, and runs the callback when its time comes', () => {
    const clock = new ExpiryClock();
    const ran: string[] = [];
    const start = Date.now();
    const thirtyDays = 30 * 24 * 3600 * 1000;
    clock.add(start + thirtyDays, () => ran.push('month'));

    jest.advanceTimersToNextTimer();
    expect(Date.now() - start).toBe(LONGEST_DELAY_MS);
    expect(ran).toEqual([]);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersToNextTimer();
    expect(Date.now() - start).toBe(thirtyDays);
    expect(ran).toEqual(['month']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps no timer for a far time once it is cancelled, and still serves a nearer newcomer', () => {
    const clock = new ExpiryClock();
    const ran: string[] = [];
    const start = Date.now();
    const far = clock.add(start + 40 * 24 * 3600 * 1000, () => ran.push('far'));
    far.cancel();
    clock.add(start + 5_000, () => ran.push('near'));
    jest.advanceTimersByTime(5_000);
    expect(ran).toEqual(['near']);
    expect(jest.getTimerCount()).toBe(0);
  });
});
