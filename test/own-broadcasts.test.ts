import { OwnBroadcasts } from '../server/cluster/own-broadcasts';

/**
 * A node's own broadcasts on their way back on the channel (the room adapter's `ordered`
 * mode): the order they are handed on in, a script that fails, and one the channel never
 * brings back. The adapter under real Redis is test/room-adapter.test.ts.
 */
function queue(graceMs = 1_000) {
  const delivered: [string, string | null][] = [];
  const waiters: (() => void)[] = [];
  const own = new OwnBroadcasts<string>(
    (item, id) => {
      delivered.push([item, id]);
      waiters.splice(0).forEach((wake) => wake());
    },
    graceMs,
  );
  const deliveredCount = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => (delivered.length >= count ? resolve() : waiters.push(check));
      check();
    });
  return { own, delivered, deliveredCount };
}

describe('own broadcasts', () => {
  it('are handed on as the channel brings them back, with their ids; the answers after change nothing', () => {
    const { own, delivered } = queue();
    const first = own.sent('{"n":1}', 'one');
    const second = own.sent('{"n":2}', 'two');
    own.heard('{"n":1}', '5-0');
    own.heard('{"n":2}', '5-1');
    own.answered(first, '5-0');
    own.answered(second, '5-1');
    expect(delivered).toEqual([
      ['one', '5-0'],
      ['two', '5-1'],
    ]);
    own.close();
  });

  it('hands on a broadcast whose script failed without an id, and the ones after it as they come back', () => {
    const { own, delivered } = queue();
    const failing = own.sent('{"n":1}', 'one');
    own.sent('{"n":2}', 'two');
    // The second is back on the channel before the first one's error is in.
    own.heard('{"n":2}', '7-0');
    own.failed(failing);
    expect(delivered).toEqual([
      ['two', '7-0'],
      ['one', null],
    ]);
    own.close();
  });

  it('hands on a broadcast that was answered but never came back on the channel, once, with its id', async () => {
    const { own, delivered, deliveredCount } = queue(20);
    const lost = own.sent('{"n":1}', 'one');
    own.answered(lost, '9-0');
    await deliveredCount(1);
    own.heard('{"n":1}', '9-0');
    expect(delivered).toEqual([['one', '9-0']]);
    own.close();
  });
});
