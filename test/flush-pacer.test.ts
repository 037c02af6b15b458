import { FlushPacer } from '../server/transports/flush-pacer';
import { nextTurn } from './support/wait';


/**
 * A clock that moves only when told: a flush "costs" what it adds to it. The pauses the
 * pacer computes from it are then the same on a loaded machine as on an idle one.
 */
function fakeClock() {
  let ms = 0;
  return { now: () => ms, advance: (by: number) => void (ms += by) };
}

/**
 * A pacer on a fake clock whose first flush has run and "cost" `cost` ms (later ones
 * cost nothing): what comes next is paced after a flush of that length.
 */
async function afterOneFlushOf(cost: number) {
  const clock = fakeClock();
  let flushes = 0;
  let next = cost;
  const pacer = new FlushPacer(() => {
    flushes += 1;
    clock.advance(next);
    next = 0;
  }, clock.now);
  pacer.request();
  await nextTurn();
  expect(flushes).toBe(1);
  return { pacer, clock, flushes: () => flushes };
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
    const clock = fakeClock();
    let flushes = 0;
    let cost = 4_000;
    let flushed: () => void = () => undefined;
    const pacer = new FlushPacer(() => {
      flushes += 1;
      clock.advance(cost);
      flushed();
    }, clock.now);
    pacer.request();
    await nextTurn();
    expect(flushes).toBe(1);

    // Requests right after a 4 s flush wait a quarter of that (1 s of real time, since
    // the clock stands still), across many turns, then go out in one flush.
    cost = 0;
    const second = new Promise<void>((resolve) => (flushed = resolve));
    for (let turn = 0; turn < 5; turn += 1) {
      pacer.request();
      await nextTurn();
    }
    expect(flushes).toBe(1);
    await second;
    expect(flushes).toBe(2);
  });

  it('holds a request through the next turns when the pause is shorter than a timer, and flushes once it is over', async () => {
    const paced = await afterOneFlushOf(2);
    // A 2 ms flush pauses the next 0.5 ms, too short for a timer: the request waits
    // turn after turn (messages arriving meanwhile would join it) while the clock stands.
    paced.pacer.request();
    for (let turn = 0; turn < 5; turn += 1) await nextTurn();
    paced.pacer.request(); // joins the waiting flush
    await nextTurn();
    expect(paced.flushes()).toBe(1);
    paced.clock.advance(0.5);
    await nextTurn();
    await nextTurn();
    expect(paced.flushes()).toBe(2);
  });

  it('does not delay a request that comes after the pause is over', async () => {
    const paced = await afterOneFlushOf(20);
    // 20 ms of flush pause the next one 5 ms; this request comes 30 ms later.
    paced.clock.advance(30);
    paced.pacer.request();
    await nextTurn();
    expect(paced.flushes()).toBe(2);
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
