import { ActionError, type ActionErrorCode } from '../../server/protocol.js';

/** A Map, not an object: a code such as `constructor` must not find anything. */
const WORDS = new Map<string, string>([
  [ActionError.Invalid, 'the server did not understand the request'],
  [ActionError.NotFound, 'the message is gone'],
  [ActionError.Forbidden, 'only its author may do that'],
  [ActionError.Empty, 'the text is empty'],
  [ActionError.TooLarge, 'the text is too long'],
  [ActionError.TooManyReactions, 'it has as many different reactions as it can take'],
  [ActionError.RateLimited, 'too much at once; try again in a moment'],
  [ActionError.Unavailable, 'the server cannot do that right now'],
  [ActionError.NotJoined, 'not in the room yet'],
]);

/** Why the server refused an edit, a delete, a reaction or a page of history, for a reader. */
export function describeActionError(code: ActionErrorCode | string): string {
  return WORDS.get(code) ?? code;
}

/** Why an action failed: the server's refusal, or what the session rejected with (closed, disconnected). */
export function describeFailure(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return describeActionError(String(reason));
}
