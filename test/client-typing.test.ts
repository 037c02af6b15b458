import { TypingNames } from '../client/typing-names';

describe('TypingNames, the terminal status line\'s who-is-typing', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('keeps each name until a few seconds after its last typing event, in the order they started', () => {
    const shown: string[][] = [];
    const names = new TypingNames((now) => shown.push([...now]), 5_000);
    names.typing('ann');
    jest.advanceTimersByTime(3_000);
    names.typing('bob');
    jest.advanceTimersByTime(1_000);
    names.typing('ann'); // again: her time starts over, and nothing changes on screen
    expect(shown).toEqual([['ann'], ['ann', 'bob']]);
    jest.advanceTimersByTime(3_999);
    expect(shown).toHaveLength(2);
    jest.advanceTimersByTime(1); // bob: 5 s since his only event; ann: 1 s to go
    expect(shown[shown.length - 1]).toEqual(['ann']);
    jest.advanceTimersByTime(1_000);
    expect(shown).toEqual([['ann'], ['ann', 'bob'], ['ann'], []]);
  });

  it('drops a name at once when its message comes or it leaves, and everyone on clear', () => {
    const shown: string[][] = [];
    const names = new TypingNames((now) => shown.push([...now]), 5_000);
    names.typing('ann');
    names.typing('bob');
    names.typing('cid');
    names.stopped('bob');
    names.stopped('nobody'); // not typing: nothing to redraw
    names.clear();
    names.clear();
    expect(shown).toEqual([['ann'], ['ann', 'bob'], ['ann', 'bob', 'cid'], ['ann', 'cid'], []]);
    jest.advanceTimersByTime(10_000); // their timers went with them
    expect(shown).toHaveLength(5);
  });
});
