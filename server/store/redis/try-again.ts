import { ErrorReply } from 'redis';

/** How long a command waits before it is sent again after a TRYAGAIN. */
const TRY_AGAIN_MS = 20;
/** How long a command is sent again at most: a slot's keys move in milliseconds; past this, the move is stuck. */
const TRY_AGAIN_FOR_MS = 5_000;

/**
 * Whether Redis answered TRYAGAIN: on a Redis Cluster, a command of several keys whose
 * slot is moving to another master while some of them have moved and some not
 * (`redis-cli --cluster reshard` or `rebalance`, as when a master is added).
 */
export function isTryAgain(err: unknown): boolean {
  return err instanceof ErrorReply && err.message.startsWith('TRYAGAIN');
}

/**
 * Sends a command (`send`) again while Redis answers TRYAGAIN, for up to 5 s: such a
 * command is to be sent again shortly, not given up as an outage (a message would be
 * delivered without being stored).
 */
export async function tryingAgain<T>(send: () => Promise<T>): Promise<T> {
  const until = Date.now() + TRY_AGAIN_FOR_MS;
  for (;;) {
    try {
      return await send();
    } catch (err) {
      if (!isTryAgain(err) || Date.now() >= until) throw err;
      await new Promise((resolve) => setTimeout(resolve, TRY_AGAIN_MS));
    }
  }
}
