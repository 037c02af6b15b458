import { atTurnEnd } from '../server/support/turn-end';

describe('atTurnEnd', () => {
  it('runs a task added while the queue runs in the same pass, before the next turn', async () => {
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      atTurnEnd(() => {
        order.push('commit');
        // What a delivery of the commit asks for; a plain setImmediate made now waits a turn.
        setImmediate(() => {
          order.push('next turn');
          resolve();
        });
        atTurnEnd(() => order.push('flush'));
      });
    });
    expect(order).toEqual(['commit', 'flush', 'next turn']);
  });

});
