/**
 * How the terminal client shows things: one line per event, time first. Chat lines read
 * `12:00:01 alice: hi`; notices `12:00:01 * bob joined (2 online)`; what the client itself
 * is doing `12:00:01 -- connected`; problems `12:00:01 !! ...`. The markers keep them
 * apart without colour; colour is added only when `color` is on (a TTY that has colours).
 */
import { JOIN_TEXT, LEAVE_TEXT, type ChatMessage, type Notice } from '../server/protocol';
import { clockTime, noticeSummary } from './shared/format';
import type { SessionStatus } from './shared/session';

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

export class TerminalFormat {
  constructor(private readonly color: boolean) {}

  chat(message: ChatMessage, own: boolean): string {
    const name = this.paint('bold', this.paint(own ? 'green' : 'cyan', visible(message.name)));
    return `${this.time(message.at)} ${name}: ${visible(message.text)}`;
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
