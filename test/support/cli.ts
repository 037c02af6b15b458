import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TSX_NODE_FLAGS } from '../../tools/tsx';
import { onCleanup } from './cleanup';
import { EventQueue } from './event-queue';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'client', 'cli.ts');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Everything a stream has printed, and a way to wait until it has printed something.
 * Waiting for what never comes fails with the text so far, instead of hanging.
 */
export class Output {
  private text = '';
  private readonly waiters = new Set<() => void>();

  constructor(private readonly label: string) {}

  push(chunk: string): void {
    this.text += chunk;
    for (const check of [...this.waiters]) check();
  }

  get all(): string {
    return this.text;
  }

  /** Resolves with the first match of `pattern` in everything printed from `from` on. */
  until(pattern: RegExp, { from = 0, timeoutMs = 15_000 } = {}): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.text.slice(from));
        if (match === null) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        match.index += from;
        resolve(match);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms; so far:\n${JSON.stringify(this.text.slice(from))}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

export interface ChatProcess {
  readonly child: ChildProcess;
  readonly stdout: Output;
  readonly stderr: Output;
  /** Complete stdout lines, as they come (for `--listen`). */
  readonly lines: EventQueue<string>;
  readonly exited: Promise<Exit>;
  write(text: string): void;
  end(): void;
}


/** Whether util-linux `script` is here to run the client in a pseudo-terminal (Debian: bsdutils). */
export const ptyAvailable = (spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout ?? '').includes('util-linux');

export interface SpawnOptions {
  /** Run inside a pseudo-terminal (util-linux `script`), as a person at a terminal would. */
  tty?: boolean;
  env?: Record<string, string>;
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Starts the terminal client from source, `node --require tsx/cjs client/cli.ts ...args`, the
 * way `npm run chat` does. Killed after each test if still running.
 */
export function spawnChat(args: readonly string[], options: SpawnOptions = {}): ChatProcess {
  // Colour is the client's own decision (a TTY with colours); none of the test runner's
  // colour settings may leak in and make it for it.
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const key of ['FORCE_COLOR', 'NO_COLOR', 'NODE_DISABLE_COLORS', 'CI']) delete env[key];
  const command = [process.execPath, ...TSX_NODE_FLAGS, CLI, ...args];
  const child = options.tty
    ? spawn(
        'script',
        // A new pseudo-terminal has no size; give it one. -e: exit with the client's status.
        ['-qec', `stty cols 120 rows 40; exec ${command.map(shellQuote).join(' ')}`, '/dev/null'],
        { cwd: ROOT, env: { ...env, TERM: 'xterm-256color' } },
      )
    : spawn(command[0] as string, command.slice(1), { cwd: ROOT, env });
  const forget = onCleanup('clients', () => child.kill('SIGKILL'));

  const stdout = new Output(`chat ${args.join(' ')} stdout`);
  const stderr = new Output(`chat ${args.join(' ')} stderr`);
  const lines = new EventQueue<string>(`chat ${args.join(' ')} stdout lines`);
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout.push(chunk);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push(line);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  // Writing to a client that has already exited must not fail the test by itself.
  child.stdin?.on('error', () => {});
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      forget();
      resolve({ code, signal });
    });
  });
  return {
    child,
    stdout,
    stderr,
    lines,
    exited,
    write: (text) => child.stdin?.write(text),
    end: () => child.stdin?.end(),
  };
}

/** The next stdout line that parses as JSON and matches `accept`; others are skipped. */
export async function nextJsonLine<T>(
  chat: ChatProcess,
  accept: (value: T) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<T> {
  for (;;) {
    const value = JSON.parse(await chat.lines.next(timeoutMs)) as T;
    if (accept(value)) return value;
  }
}

