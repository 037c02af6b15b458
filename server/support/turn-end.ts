/**
 * Work for the end of this event-loop turn, in one `setImmediate` for everything: the
 * store's commit first (it was asked for first, by the first message of the turn), then
 * the broadcast flushes that the commit's deliveries ask for.
 *
 * Why not a `setImmediate` each: one scheduled while the check phase runs waits for the
 * next turn of the loop. With the store committing in the check phase, every delivery
 * would then be written one turn later, and the messages of a turn would stop sharing
 * writes with the ones of the next. Here a task added while the queue runs is run in the
 * same pass. Callbacks of writes (process.nextTick) run after the
 * pass, so a write that asks for another flush gets the next turn: the loop moves on.
 */
const tasks: (() => void)[] = [];
let scheduled = false;

function runAll(): void {
  scheduled = false;
  let failure: { error: unknown } | null = null;
  // Not a for-of over a copy: tasks added while this runs belong to this pass.
  for (let i = 0; i < tasks.length; i += 1) {
    try {
      (tasks[i] as () => void)();
    } catch (error) {
      failure ??= { error };
    }
  }
  tasks.length = 0;
  // As a throwing setImmediate callback would: after the others had their turn.
  if (failure !== null) throw failure.error;
}

/** Runs `task` at the end of this turn (the check phase), after the tasks asked for before it. */
export function atTurnEnd(task: () => void): void {
  tasks.push(task);
  if (scheduled) return;
  scheduled = true;
  setImmediate(runAll);
}
