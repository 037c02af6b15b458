import { Backoff } from '../client/shared/backoff';

describe('reconnection backoff', () => {
  it('doubles the delay up to the cap, each drawn from the upper half of its step', () => {
    const low = new Backoff(500, 5_000, () => 0);
    expect(Array.from({ length: 6 }, () => low.next())).toEqual([250, 500, 1_000, 2_000, 2_500, 2_500]);
    const high = new Backoff(500, 5_000, () => 1);
    expect(Array.from({ length: 6 }, () => high.next())).toEqual([500, 1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it('counts attempts and starts over after a reset', () => {
    const backoff = new Backoff(500, 5_000, () => 1);
    backoff.next();
    backoff.next();
    expect(backoff.attempts).toBe(2);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(500);
  });
});
