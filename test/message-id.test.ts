import { MessageIdGenerator } from '../server/store/message-id';

describe('message ids', () => {
  it('are <ms>-<sequence>, unique within a millisecond and across a clock step back', () => {
    const times = [1000, 1000, 1000, 999, 1001];
    const ids = new MessageIdGenerator(() => times.shift() ?? 0);
    expect(Array.from({ length: 5 }, () => ids.next().id)).toEqual(['1000-0', '1000-1', '1000-2', '1000-3', '1001-0']);
  });
});
