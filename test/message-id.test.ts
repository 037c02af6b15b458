import { idParts, MessageIdGenerator } from '../server/store/message-id';
import { outageIds } from '../server/store/redis-store';

describe('message ids', () => {
  it('are <ms>-<sequence>, unique within a millisecond and across a clock step back', () => {
    const times = [1000, 1000, 1000, 999, 1001];
    const ids = new MessageIdGenerator(() => times.shift() ?? 0);
    expect(Array.from({ length: 5 }, () => ids.next().id)).toEqual(['1000-0', '1000-1', '1000-2', '1000-3', '1001-0']);
  });

  it('go on in the next millisecond rather than pass the largest safe integer', () => {
    const stride = 2 ** 40;
    const ids = new MessageIdGenerator(() => 1000, 7, stride);
    const seqs = Array.from({ length: 8200 }, () => idParts(ids.next().id));
    expect(seqs.every((parts) => parts !== null && parts.every(Number.isSafeInteger))).toBe(true);
    expect(seqs.at(-1)?.[0]).toBe(1001);
  });

  it('while Redis is down: a sequence of 2^32 or more, different for two nodes in the same millisecond', () => {
    const a = outageIds(5);
    const b = outageIds(6);
    const first = idParts(a.next().id);
    expect(first?.[1]).toBe(2 ** 32 + 5);
    const ofA = new Set(Array.from({ length: 1000 }, () => a.next().id));
    expect(Array.from({ length: 1000 }, () => b.next().id).filter((id) => ofA.has(id))).toEqual([]);
  });
});
