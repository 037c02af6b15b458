import { FlushPacer } from '../server/transports/flush-pacer';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Burns the CPU for `ms`, as a flush to thousands of sockets does. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe('FlushPacer', () => {
  it('flushes once per turn, in that turn, however many requests it got', async () => {
    let flushes = 0;
    const pacer = new FlushPacer(() => {
      flushes += 1;
    });
    pacer.request();
    pacer.request();
    expect(flushes).toBe(0);
    await nextTurn();
    expect(flushes).toBe(1);
    pacer.request();
    await nextTurn();
    expect(flushes).toBe(2);
  });

  it('waits after an expensive flush, so the requests of several turns share the next one', async () => {
    let flushes = 0;
    let cost = 80;
    const pacer = new FlushPacer(() => {
      flushes += 1;
      busy(cost);
    });
    pacer.request();
    await nextTurn();
    expect(flushes).toBe(1);

    // Requests right after an 80 ms flush wait about 20 ms, across many turns, then go together.
    cost = 0;
    for (let turn = 0; turn < 5; turn += 1) {
      pacer.request();
      await nextTurn();
    }
    expect(flushes).toBe(1);
    await sleep(60);
    expect(flushes).toBe(2);
  });

  it('does not delay a request that comes after the pause is over', async () => {
    let flushes = 0;
    let cost = 20;
    const pacer = new FlushPacer(() => {
      flushes += 1;
      busy(cost);
    });
    pacer.request();
    await nextTurn();
    cost = 0;
    // 20 ms of flush pause the next one about 5 ms; this request comes well after.
    await sleep(30);
    pacer.request();
    await nextTurn();
    expect(flushes).toBe(2);
  });

  it('flushes at once when asked to, and a waiting request then finds nothing more to do', async () => {
    const flushed: string[] = [];
    let pending: string[] = [];
    const pacer = new FlushPacer(() => {
      flushed.push(...pending);
      pending = [];
    });
    pending.push('a');
    pacer.request();
    pacer.flushNow();
    expect(flushed).toEqual(['a']);
    await nextTurn();
    expect(flushed).toEqual(['a']);
  });
});
