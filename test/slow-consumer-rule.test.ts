import { SlowConsumerRule, type DrainState } from '../server/session/slow-consumer';

describe('the slow-consumer rule', () => {
  let now = 0;
  const rule = new SlowConsumerRule({ softBytes: 100, graceMs: 1_000, ceilingBytes: 1_000 }, () => now);
  const fresh = (): DrainState => ({ overSince: 0 });
  beforeEach(() => (now = 0));

  it('keeps a client that is above the soft limit for less than the grace period', () => {
    const client = fresh();
    expect(rule.judge(client, 900)).toBe('keep');
    now += 999;
    expect(rule.judge(client, 900)).toBe('keep');
  });

  it('cuts a client that stays above the soft limit for the grace period', () => {
    const client = fresh();
    rule.judge(client, 200);
    now += 1_000;
    expect(rule.judge(client, 200)).toBe('cut');
  });

  it('counts one look below the soft limit as progress, and starts the grace period again', () => {
    const client = fresh();
    rule.judge(client, 900);
    now += 600;
    expect(rule.judge(client, 50)).toBe('keep');
    expect(rule.judge(client, 900)).toBe('keep');
    now += 600;
    expect(rule.judge(client, 900)).toBe('keep');
    now += 400;
    expect(rule.judge(client, 900)).toBe('cut');
  });

  it('cuts at once above the ceiling', () => {
    expect(rule.judge(fresh(), 1_001)).toBe('cut');
  });
});
