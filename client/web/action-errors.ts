import { refusalWords } from '../shared/format.js';

/** Why the server refused an edit, a delete, a reaction or a page of history, for a reader. */
export function describeActionError(code: string): string {
  return refusalWords(code);
}

/** Why an action failed: the server's refusal, or what the session rejected with (closed, disconnected). */
export function describeFailure(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return describeActionError(String(reason));
}
