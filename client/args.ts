import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_ROOM, MAX_ROOM_NAME_LENGTH, isRoomName } from '../server/protocol';
import type { RawFormat, TransportKind } from './shared/session';

export const DEFAULT_URL = 'http://localhost:8000';

export const USAGE = `Usage: npm run -s chat -- [options] [URL]

Chat with a chat-bridge server from the terminal. URL is the server's address
(http, https, ws or wss; default ${DEFAULT_URL}).

Modes:
  (default)       interactive: type a line and press Enter to send it;
                  /join ROOM moves to another room, /edit, /delete, /react,
                  /older and /read act on messages, /kick, /ban and /mute
                  on members (moderators: a token with role moderator or
                  admin), /quit or Ctrl-D leaves, /help lists the commands
  --send TEXT     send one message, wait for the server to take it, print its id
  --listen        print every event as one JSON line until interrupted

Options:
  --name NAME     the name others see (default: the server picks guest-xxxx)
  --room ROOM     the room to chat in, in every mode (default ${DEFAULT_ROOM}): 1-${MAX_ROOM_NAME_LENGTH} of
                  a-z 0-9 - _ . starting with a letter or a digit, never ..
  --raw           use the plain WebSocket endpoint instead of Socket.IO
                  (/socket for the lobby, /socket/ROOM for a room)
  --json          with --raw: JSON frames (names, ids, server times) instead of
                  the seed's plain text; --send and --listen always use them
  --ids           interactive: show each message's id (#1700000000000-0), which
                  /edit, /delete, /react, /older and /read take; /ids toggles it
  --token TOKEN   the token the server asks for (its CHAT_TOKEN, or a JWT): sent
                  as auth.token over Socket.IO, ?token= with --raw, in every mode
                  and every room; never printed. Wins over CHAT_TOKEN_FILE
  -h, --help      show this help

Environment:
  CHAT_TOKEN_FILE a file holding the token (a trailing newline is dropped): unlike
                  --token, it keeps the token out of the process list and the
                  shell's history

Kicked by a moderator, the interactive client stays: /join goes back in.
Banned, it stops.

Exit status: 0 done, 1 the server could not be reached or refused (the token
too: unauthorized, forbidden for the room, or expired; a ban), 2 bad usage.
`;

/** `ids`: show message ids from the start (`--ids`). */
export type Mode = { kind: 'interactive'; ids: boolean } | { kind: 'send'; text: string } | { kind: 'listen' };

/** Where and how to connect. */
export interface Connection {
  url: string;
  transport: TransportKind;
  rawFormat: RawFormat;
  name: string | undefined;
  /** A well-formed room name (isRoomName). */
  room: string;
  /** From --token or CHAT_TOKEN_FILE; never printed. */
  token: string | undefined;
}

export interface CliOptions {
  connection: Connection;
  mode: Mode;
}

/** Bad command-line usage; the message is one line. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

/**
 * Reads the command line (without `node` and the script), and CHAT_TOKEN_FILE from `env`
 * when there is no --token. Returns 'help' for -h/--help.
 */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: 'string' },
        room: { type: 'string' },
        raw: { type: 'boolean' },
        json: { type: 'boolean' },
        ids: { type: 'boolean' },
        token: { type: 'string' },
        send: { type: 'string' },
        listen: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      // parseArgs explains at length; the first sentence says what is wrong.
      throw new UsageError((err as Error).message.split('. ')[0] ?? 'bad arguments');
    }
    throw err;
  }
  const { values, positionals } = parsed;
  if (values.help === true) return 'help';

  if (positionals.length > 1) throw new UsageError(`expected at most one URL, got ${positionals.length} arguments`);
  const url = positionals[0] ?? DEFAULT_URL;
  checkUrl(url);
  if (values.send !== undefined && values.listen === true) throw new UsageError('--send and --listen do not go together');
  if (values.json === true && values.raw !== true) throw new UsageError('--json goes with --raw');
  if (values.ids === true && (values.send !== undefined || values.listen === true)) {
    throw new UsageError('--ids is for the interactive mode');
  }
  if (values.send !== undefined && values.send.trim() === '') throw new UsageError('--send needs a message');
  if (values.name !== undefined && values.name.trim() === '') throw new UsageError('--name needs a name');
  const room = values.room ?? DEFAULT_ROOM;
  if (!isRoomName(room)) throw new UsageError(roomNameProblem(room));
  if (values.token !== undefined && values.token.trim() === '') throw new UsageError('--token needs a token');
  const token = values.token ?? tokenFromFile(env['CHAT_TOKEN_FILE']);

  const mode: Mode =
    values.send !== undefined
      ? { kind: 'send', text: values.send }
      : values.listen === true
        ? { kind: 'listen' }
        : { kind: 'interactive', ids: values.ids === true };
  const connection: Connection = {
    url,
    transport: values.raw === true ? 'raw' : 'socket.io',
    // --send needs the JSON frames to learn its message's id, --listen to print events as
    // JSON; the frame a raw client sends is the same either way.
    rawFormat: values.json === true || mode.kind !== 'interactive' ? 'json' : 'text',
    name: values.name,
    room,
    token,
  };
  return { connection, mode };
}

/** Why `text` is not a room name, in one line; also for the interactive /join. */
export function roomNameProblem(text: string): string {
  return `not a room name: ${JSON.stringify(text)} (1-${MAX_ROOM_NAME_LENGTH} of a-z 0-9 - _ . starting with a letter or a digit, no "..")`;
}

/** The token in the file at `path` (CHAT_TOKEN_FILE), its trailing newline dropped; undefined without one. */
function tokenFromFile(path: string | undefined): string | undefined {
  if (path === undefined || path === '') return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory' : (code ?? 'unreadable');
    throw new UsageError(`cannot read CHAT_TOKEN_FILE ${path}: ${why}`);
  }
  const token = text.replace(/\r?\n$/, '');
  if (token.trim() === '') throw new UsageError(`CHAT_TOKEN_FILE ${path} holds no token`);
  return token;
}

function checkUrl(text: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`not a URL: ${text}`);
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new UsageError(`URL must start with http://, https://, ws:// or wss://, not ${url.protocol}//`);
  }
}
