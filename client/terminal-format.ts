/**
 * How the terminal client shows things: one line per event, time first. Chat lines read
 * `12:00:01 alice: hi` (`(edited)` after an edited one, its reactions after that, and
 * `#<id>` at the end while ids are shown); notices `12:00:01 * bob joined (2 online)`;
 * what happened to a message `12:00:05 ~ message deleted (alice: hi)`,
 * `12:00:06 ~ 👍 2 on alice: hi`; what the client itself is doing `12:00:01 -- connected`;
 * problems `12:00:01 !! ...`. The markers keep them apart without colour; colour is added
 * only when `color` is on (a TTY that has colours).
 */
import {
  ChatError,
  JOIN_TEXT,
  LEAVE_TEXT,
  ModerationError,
  type ActionErrorCode,
  type ChatMessage,
  type ModerationErrorCode,
  type Notice,
  type Reaction,
} from '../server/protocol';
import { clockTime, noticeSummary, refusalWords } from './shared/format';
import type { SessionStatus } from './shared/session';
import type { ShownMessage } from './shown-messages';

/** SGR codes, on and off. (util.styleText would do, but in Node 20 it decides by itself whether to colour.) */
const STYLES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  magenta: [35, 39],
  cyan: [36, 39],
} as const;
type Style = keyof typeof STYLES;

/** How much of a message's text a line about it quotes. */
const EXCERPT_CHARS = 40;

export class TerminalFormat {
  /** Whether lines about messages end with the message's id (`/ids`, `--ids`). */
  ids = false;

  constructor(private readonly color: boolean) {}

  /** A message; `at`: when to say it happened (an edit's time for an edit). */
  chat(message: ChatMessage, own: boolean, at = message.at): string {
    const name = this.paint('bold', this.paint(own ? 'green' : 'cyan', visible(message.name)));
    const edited = message.version === undefined ? '' : ` ${this.paint('dim', '(edited)')}`;
    const reactions = Object.entries(message.reactions ?? {}).map(([emoji, count]) => `${visible(emoji)} ${count}`);
    const shownReactions = reactions.length === 0 ? '' : `  ${reactions.join(' ')}`;
    return `${this.time(at)} ${name}: ${visible(message.text)}${edited}${shownReactions}${this.idOf(message.id)}`;
  }

  /** An edit of a message this terminal has not shown: its id and new text. */
  editedUnknown(id: string, text: string, at: number): string {
    return this.marked('~', 'dim', `#${id} edited: ${visible(text)}`, at);
  }

  /** A deleted message; `known`: what was shown of it, if it was. */
  deleted(id: string, known: ShownMessage | undefined, at = Date.now()): string {
    const what = known === undefined || known.name === '' ? '' : ` (${this.excerpt(known)})`;
    return this.marked('~', 'dim', `message deleted${what}`, at) + this.idOf(id);
  }

  /** `~ 👍 2 on alice: hi`: a message's count of one emoji changed. */
  reaction(reaction: Reaction, known: ShownMessage | undefined, at = Date.now()): string {
    const on = known === undefined || known.name === '' ? `#${reaction.id}` : this.excerpt(known);
    const line = this.marked('~', 'dim', `${visible(reaction.emoji)} ${reaction.count} on ${on}`, at);
    return known === undefined ? line : line + this.idOf(reaction.id);
  }

  notice(notice: Notice): string {
    return this.marked('*', 'yellow', noticeSummary({ ...notice, name: visible(notice.name) }), notice.at);
  }

  /** A frame of the raw endpoint in seed mode: no name, no server time. */
  seedFrame(text: string, at: number): string {
    if (text === JOIN_TEXT || text === LEAVE_TEXT) return this.marked('*', 'yellow', text, at);
    return `${this.time(at)} ${visible(text)}`;
  }

  status(text: string, at = Date.now()): string {
    return this.marked('--', 'magenta', text, at);
  }

  /** The status line under the messages (who is typing): no time, dimmed. */
  hint(text: string): string {
    return this.paint('dim', text);
  }

  problem(text: string, at = Date.now()): string {
    return this.marked('!!', 'red', text, at);
  }

  /** `alice: the first forty characters…` */
  private excerpt(known: ShownMessage): string {
    const chars = [...visible(known.text)];
    const text = chars.length > EXCERPT_CHARS ? `${chars.slice(0, EXCERPT_CHARS - 1).join('')}…` : chars.join('');
    return `${visible(known.name)}: ${text}`;
  }

  /** `  #1700000000000-0` while ids are shown, else nothing. */
  private idOf(id: string): string {
    return this.ids ? `  ${this.paint('dim', `#${id}`)}` : '';
  }

  private marked(marker: string, style: Style, text: string, at: number): string {
    return `${this.time(at)} ${this.paint(style, `${marker} ${text}`)}`;
  }

  private time(at: number): string {
    return this.paint('dim', clockTime(at));
  }

  private paint(style: Style, text: string): string {
    if (!this.color) return text;
    const [on, off] = STYLES[style];
    return `\x1b[${on}m${text}\x1b[${off}m`;
  }
}

/** Why the server refused an edit, delete, reaction, page or read marker, in words, code last. */
export function describeRefusal(code: ActionErrorCode): string {
  return `${refusalWords(code)} (${code})`;
}

/** A Map, not an object: a code such as `constructor` must not find anything. */
const MODERATION_REFUSALS = new Map<string, string>([
  [ModerationError.Forbidden, 'only a moderator of this room may do that, and not to an admin or another moderator'],
  [ModerationError.Invalid, 'the server found the request malformed (a reason past 200 characters?)'],
  [ModerationError.RateLimited, 'too much at once; try again in a moment'],
  [ModerationError.Unavailable, 'the server cannot do that right now'],
]);

/** Why the server refused a kick, a ban or a mute, in words, code last. */
export function describeModerationRefusal(code: ModerationErrorCode): string {
  return `${MODERATION_REFUSALS.get(code) ?? code} (${code})`;
}

/** Why the server refused a chat message: a mute in words, any other code as ChatRefusedError says it (with the server's reason, if it gave one). */
export function describeChatRefusal(code: string, reason?: string): string {
  if (code === ChatError.Muted) return `you are muted in this room (${code})`;
  return `the server refused the message: ${code}${reason === undefined ? '' : ` (${reason})`}`;
}

/** `room alpha at http://localhost:8000`: where a session is, for its status lines. */
export function describeWhere(place: { url: string; room: string }): string {
  return `room ${place.room} at ${place.url}`;
}

/** What the client is doing, in words, for the status line. */
export function describeStatus(status: SessionStatus, where: string): string {
  switch (status.state) {
    case 'connecting':
      return status.attempt === 0 ? `connecting to ${where}` : `reconnecting (attempt ${status.attempt})`;
    case 'connected':
      return `connected to ${where}`;
    case 'reconnecting':
      return `${status.reason}; reconnecting in ${(status.delayMs / 1000).toFixed(1)} s`;
    case 'failed':
      return status.reason;
    case 'closed':
      return 'disconnected';
  }
}

/**
 * Text from other people, safe to print: control characters (escape sequences that could
 * move the cursor, clear the screen or retitle the window; carriage returns that could
 * overwrite a line) become visible symbols instead of being obeyed.
 */
export function visible(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => {
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x20) return String.fromCodePoint(0x2400 + code); // ␀ … ␟, e.g. ␛ for ESC
    if (code === 0x7f) return '\u2421'; // ␡
    return '\ufffd';
  });
}
