import { History } from '../server/store/history';
import { compareIds, MessageIdGenerator } from '../server/store/message-id';
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

describe('history bounded by bytes', () => {
  const sized = (id: string, bytes: number): ChatMessage => ({ id, text: 'x'.repeat(bytes), name: 'n', at: 0 });

  it('drops the oldest messages once their text passes the byte bound', () => {
    const history = new History(10, 250);
    for (const id of ['1-0', '2-0', '3-0']) history.add(sized(id, 100));
    expect(ids(history)).toEqual(['2-0', '3-0']);
  });

  it('counts UTF-8 bytes, and keeps the bound when a late message is put in its place', () => {
    const history = new History(10, 12);
    history.add({ id: '1-0', text: '€€', name: 'n', at: 0 }); // 6 bytes
    history.add({ id: '3-0', text: '€€', name: 'n', at: 0 });
    history.add({ id: '2-0', text: 'abc', name: 'n', at: 0 }); // late: between the two
    expect(ids(history)).toEqual(['2-0', '3-0']);
  });

  it('keeps nothing of a message larger than the whole bound', () => {
    const history = new History(10, 50);
    history.add(sized('1-0', 10));
    history.add(sized('2-0', 51));
    expect(ids(history)).toEqual(['1-0']);
  });
});
