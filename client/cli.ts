/**
 * The terminal client's entry point (`npm run -s chat -- --help`): the only file that reads
 * the command line, handles signals and exits. Exit codes: 0 done, 1 the server could not
 * be reached, refused or did not answer, 2 bad usage.
 */
import { USAGE, UsageError, parseCliArgs } from './args';
import { runInteractive } from './interactive';
import { listen, reason, report, sendOnce } from './scripted';

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
