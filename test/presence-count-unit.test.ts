import { PresenceCount } from '../server/room/presence';

describe('PresenceCount', () => {
  it('counts connections per name, and a leave takes one away', () => {
    const count = new PresenceCount();
    count.add('ann');
    count.add('ann');
    count.add('bob');
    count.remove('ann');
    expect(count.online).toBe(2);
    expect(count.entries()).toEqual([
      ['ann', 1],
      ['bob', 1],
    ]);
  });

  it('ignores the leave of a name it never counted, so the total keeps matching the names', () => {
    const count = new PresenceCount();
    count.add('ann');
    count.remove('cid'); // another node's leave whose join was missed
    expect(count.online).toBe(1);
    expect(count.entries()).toEqual([['ann', 1]]);
  });
});
