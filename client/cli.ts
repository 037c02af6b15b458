/**
 * The terminal client's entry point (`npm run -s chat -- --help`): the only file that reads
 * the command line, handles signals and exits. Exit codes: 0 done, 1 the server could not
 * be reached, refused or did not answer, 2 bad usage.
 */
import type { ChatMessage, RawJsonFrame, Typing } from '../server/protocol';
import { USAGE, UsageError, parseCliArgs, type Connection } from './args';
import { nodeSession } from './connect';
import { runInteractive } from './interactive';
import type { SessionStatus } from './shared/session';
import { describeStatus } from './terminal-format';

/** What `--listen` prints, one JSON object a line: the raw endpoint's frames, and the rest alike. */
export type ListenLine =
  | RawJsonFrame
  | { type: 'history'; messages: ChatMessage[] }
  | ({ type: 'typing' } & Typing)
  | { type: 'frame'; text: string };

/** From starting to connect until the server has answered a `--send`. */
const SEND_TIMEOUT_MS = 15_000;

function report(line: string): void {
  process.stderr.write(`chat: ${line}\n`);
}

function reason(err: unknown): string {
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
async function sendOnce(connection: Connection, text: string): Promise<number> {
  let failed: (reason: string) => void = () => {};
  const failure = new Promise<never>((_resolve, reject) => {
    failed = (why) => reject(new Error(why));
  });
  const ignore = () => {};
  const chat = nodeSession(connection, 'never', {
    status: reportStatus(connection.url, (why) => failed(why)),
    chat: ignore,
    notice: ignore,
    history: ignore,
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
function listen(connection: Connection, signal: AbortSignal): Promise<number> {
  const print = (line: ListenLine) => process.stdout.write(`${JSON.stringify(line)}\n`);
  return new Promise((resolve) => {
    const chat = nodeSession(connection, 'once-connected', {
      status: reportStatus(connection.url, (why) => {
        report(why);
        resolve(1);
      }),
      chat: (message) => print({ type: 'chat', ...message }),
      notice: (notice) => print({ type: 'notice', ...notice }),
      history: (messages) => {
        if (messages.length > 0) print({ type: 'history', messages });
      },
      typing: (who) => print({ type: 'typing', ...who }),
      seedFrame: (text) => print({ type: 'frame', text }),
    });
    signal.addEventListener('abort', () => void chat.close().then(() => resolve(0)), { once: true });
    chat.start();
  });
}

async function main(argv: readonly string[], signal: AbortSignal): Promise<number> {
  let options;
  try {
    options = parseCliArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    report(`${err.message} (see --help)`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  switch (options.mode.kind) {
    case 'send':
      return sendOnce(options.connection, options.mode.text);
    case 'listen':
      return listen(options.connection, signal);
    case 'interactive':
      return runInteractive(options, { input: process.stdin, output: process.stdout, errors: process.stderr }, signal);
  }
}

/** Exits once what was written to stdout has been handed over (it may be a pipe). */
function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
// A reader that goes away (`--listen | head -1`) is a normal end, not a crash.
process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));

main(process.argv.slice(2), stop.signal).then(exit, (err: unknown) => {
  report(`unexpected error: ${reason(err)}`);
  exit(1);
});
