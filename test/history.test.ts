import { History } from '../server/store/history';
import { compareIds, MessageIdGenerator } from '../server/store/message-id';
import type { ChatMessage } from '../server/protocol';
import { jsonBytes } from '../server/support/json-bytes';

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

describe('history bounded by bytes, as sent (JSON)', () => {
  const sized = (id: string, bytes: number): ChatMessage => ({ id, text: 'x'.repeat(bytes), name: 'n', at: 0 });

  it('drops the oldest messages once they pass the byte bound', () => {
    const each = jsonBytes(sized('1-0', 100));
    const history = new History(10, 2 * each + 10);
    for (const id of ['1-0', '2-0', '3-0']) history.add(sized(id, 100));
    expect(ids(history)).toEqual(['2-0', '3-0']);
  });

  it('counts what JSON escapes: a control character is six bytes there', () => {
    const control = { id: '1-0', text: '\u0001'.repeat(10), name: 'n', at: 0 };
    expect(jsonBytes(control)).toBe(jsonBytes(sized('1-0', 60)));
    const history = new History(10, jsonBytes(control) + jsonBytes(sized('2-0', 10)) - 1);
    history.add(control);
    history.add(sized('2-0', 10));
    expect(ids(history)).toEqual(['2-0']);
  });

  it('counts UTF-8 bytes, and keeps the bound when a late message is put in its place', () => {
    const first = { id: '1-0', text: '€€', name: 'n', at: 0 }; // 6 bytes of text
    const last = { id: '3-0', text: '€€', name: 'n', at: 0 };
    const late = { id: '2-0', text: 'abc', name: 'n', at: 0 }; // between the two
    const history = new History(10, jsonBytes(late) + jsonBytes(last));
    history.add(first);
    history.add(last);
    history.add(late);
    expect(ids(history)).toEqual(['2-0', '3-0']);
  });

  it('keeps nothing of a message larger than the whole bound, and no longer answers what came after older ones', () => {
    const history = new History(10, jsonBytes(sized('1-0', 10)) + jsonBytes(sized('3-0', 10)));
    history.add(sized('1-0', 10));
    history.add(sized('2-0', 500));
    history.add(sized('3-0', 10));
    expect(ids(history)).toEqual(['1-0', '3-0']);
    expect(history.after('1-0')).toBeNull();
    expect(history.after('3-0')).toEqual([]);
  });

  it('answers what came after a message a page at a time, at least one message', () => {
    const history = new History(10);
    for (const id of ['1-0', '2-0', '3-0', '4-0']) history.add(sized(id, 100));
    const page = jsonBytes(sized('2-0', 100)) * 2;
    expect(history.after('1-0', page)?.map((m) => m.id)).toEqual(['2-0', '3-0']);
    expect(history.after('1-0', 1)?.map((m) => m.id)).toEqual(['2-0']);
  });
});
