import { Backoff } from '../client/shared/backoff';

/** The first `count` delays of a backoff whose random() always answers `value`. */
const delays = (value: number, count = 6): number[] => {
  const backoff = new Backoff(500, 5_000, () => value);
  return Array.from({ length: count }, () => backoff.next());
};

describe('reconnection backoff', () => {
  it('draws each delay from the whole step, 0 included', () => {
    expect(delays(0)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(delays(0.5)).toEqual([250, 500, 1_000, 2_000, 2_500, 2_500]);
  });

  it('doubles the step from the minimum up to the cap', () => {
    expect(delays(0.999)).toEqual([500, 999, 1_998, 3_996, 4_995, 4_995]);
  });

  it('spreads clients dropped together over the whole step', () => {
    const draws = [0.05, 0.3, 0.55, 0.8];
    const firstDelays = draws.map((value) => new Backoff(2_000, 5_000, () => value).next());
    expect(firstDelays).toEqual([100, 600, 1_100, 1_600]);
  });

  it('counts attempts and starts over after a reset', () => {
    const backoff = new Backoff(500, 5_000, () => 0.999);
    backoff.next();
    backoff.next();
    expect(backoff.attempts).toBe(2);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(500);
  });
});
