import { History } from '../server/history';
import { compareIds, MessageIdGenerator } from '../server/message-id';
import type { ChatMessage } from '../server/protocol';

const message = (id: string): ChatMessage => ({ id, text: id, name: 'n', at: 0 });
const ids = (history: History) => history.list().map((m) => m.id);

describe('history', () => {
  it('keeps the last messages in id order, even when another node’s arrive late', () => {
    const history = new History(3);
    for (const id of ['5-0', '7-0', '6-0', '6-0', '8-1', '8-0']) history.add(message(id));
    expect(ids(history)).toEqual(['7-0', '8-0', '8-1']);
    expect(history.after('7-0')?.map((m) => m.id)).toEqual(['8-0', '8-1']);
    expect(history.after('5-0')).toBeNull();
  });

  it('orders ids by time, then sequence, as Redis does', () => {
    expect(compareIds('10-2', '9-30')).toBeGreaterThan(0);
    expect(compareIds('10-2', '10-10')).toBeLessThan(0);
  });

  it('gives workers disjoint ids of the same shape', () => {
    const first = new MessageIdGenerator(() => 1000, 0, 2);
    const second = new MessageIdGenerator(() => 1000, 1, 2);
    expect([first.next().id, first.next().id, second.next().id, second.next().id]).toEqual(['1000-0', '1000-2', '1000-1', '1000-3']);
  });
});
