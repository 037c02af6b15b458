/**
 * The scriptable modes: `--send` (one message, its id on stdout) and `--listen` (every
 * event as one JSON line on stdout). What the client is doing goes to stderr.
 */
import type { HistoryMessage, Presence, RawJsonFrame, Typing } from '../server/protocol';
import type { Connection } from './args';
import { nodeSession } from './connect';
import type { SessionStatus } from './shared/session';
import { describeStatus, describeWhere } from './terminal-format';

/**
 * What `--listen` prints, one JSON object a line: the raw endpoint's frames (edits,
 * deletes, reactions and read markers among them), and the rest alike.
 */
export type ListenLine =
  | RawJsonFrame
  | { type: 'history'; messages: HistoryMessage[] }
  | ({ type: 'presence' } & Presence)
  | ({ type: 'typing' } & Typing)
  | { type: 'frame'; text: string };

/** From starting to connect until the server has answered a `--send`. */
const SEND_TIMEOUT_MS = 15_000;

export function report(line: string): void {
  process.stderr.write(`chat: ${line}\n`);
}

export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reports what the session is doing on stderr, and hands a failure's reason to `failed`. */
function reportStatus(where: string, failed: (reason: string) => void) {
  return (status: SessionStatus): void => {
    if (status.state === 'failed') failed(status.reason);
    else if (status.state !== 'closed') report(describeStatus(status, where));
  };
}

/** `--send`: connect, send, print the id once the server has taken the message. */
export async function sendOnce(connection: Connection, text: string): Promise<number> {
  let failed: (reason: string) => void = () => {};
  const failure = new Promise<never>((_resolve, reject) => {
    failed = (why) => reject(new Error(why));
  });
  const ignore = () => {};
  const chat = nodeSession(connection, 'never', {
    status: reportStatus(describeWhere(connection), (why) => failed(why)),
    chat: ignore,
    notice: ignore,
    history: ignore,
    presence: ignore,
    typing: ignore,
    seedFrame: ignore,
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the server within ${SEND_TIMEOUT_MS / 1000} s`)), SEND_TIMEOUT_MS);
  });
  chat.start();
  try {
    const id = await Promise.race([chat.send(text), failure, timeout]);
    process.stdout.write(`${id ?? ''}\n`);
    return 0;
  } catch (err) {
    report(reason(err));
    return 1;
  } finally {
    clearTimeout(timer);
    await chat.close();
  }
}

/** `--listen`: every event as one JSON line on stdout, what the client is doing on stderr. */
export function listen(connection: Connection, signal: AbortSignal): Promise<number> {
  const print = (line: ListenLine) => process.stdout.write(`${JSON.stringify(line)}\n`);
  return new Promise((resolve) => {
    const chat = nodeSession(connection, 'once-connected', {
      status: reportStatus(describeWhere(connection), (why) => {
        report(why);
        resolve(1);
      }),
      chat: (message) => print({ type: 'chat', ...message }),
      notice: (notice) => print({ type: 'notice', ...notice }),
      history: (messages) => {
        if (messages.length > 0) print({ type: 'history', messages });
      },
      presence: (presence) => print({ type: 'presence', ...presence }),
      typing: (who) => print({ type: 'typing', ...who }),
      seedFrame: (text) => print({ type: 'frame', text }),
      edited: (edit) => print({ type: 'edit', ...edit }),
      deleted: (deleted) => print({ type: 'delete', ...deleted }),
      reaction: (reaction) => print({ type: 'reaction', ...reaction }),
      read: (marker) => print({ type: 'read', ...marker }),
    });
    signal.addEventListener('abort', () => void chat.close().then(() => resolve(0)), { once: true });
    chat.start();
  });
}
