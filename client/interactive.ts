/**
 * The interactive terminal client: a readline prompt, with incoming lines printed above
 * it. In a terminal, what is being typed is redrawn below each new line, never mixed into
 * it, and a status line above the prompt says who is typing; from a pipe, each input line
 * is a message and the output is plain lines. Lines typed while the connection is down
 * wait for it (up to MAX_QUEUED) and go out in order once it is back.
 */
import * as readline from 'node:readline';
import { BANNED, isRoomName } from '../server/protocol';
import { roomNameProblem, type CliOptions } from './args';
import { nodeSession } from './connect';
import { MESSAGE_HELP, MESSAGE_VERBS, MODERATION_HELP, MessageView } from './message-view';
import { typingSummary } from './shared/format';
import { ChatRefusedError, type ChatSession, type SessionStatus } from './shared/session';
import { TerminalFormat, describeChatRefusal, describeStatus, describeWhere, visible } from './terminal-format';
import { TypingNames } from './typing-names';

export interface Terminal {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WriteStream;
  /** Where the one-line reason goes when the client gives up. */
  errors: NodeJS.WritableStream;
}

const HELP = [
  'type a message and press Enter to send it',
  '/join ROOM leaves this room for ROOM (a-z 0-9 - _ ., e.g. /join lobby)',
  ...MESSAGE_HELP,
  '/quit (or Ctrl-D) leaves; //text sends a line that starts with /',
  ...MODERATION_HELP,
];

/** How long leaving waits for messages the server has not taken yet. */
const DRAIN_TIMEOUT_MS = 5_000;

/**
 * Lines typed while the connection is down wait for it, at most this many (the rest are
 * dropped, saying so). Sent all at once on reconnection, they stay well within the
 * server's default burst (RATE_BURST 40), past which a raw client is cut off.
 */
export const MAX_QUEUED = 20;

/** `1 queued message`, `3 queued messages`. */
const queuedMessages = (count: number) => `${count} queued message${count === 1 ? '' : 's'}`;

/**
 * Prints whole lines above the prompt. In a terminal, a status line (who is typing) may
 * sit between them and the prompt.
 */
class Screen {
  private closed = false;
  /** The status line as shown, '' for none; always one row. */
  private status = '';

  constructor(
    private readonly rl: readline.Interface,
    private readonly output: NodeJS.WriteStream,
    private readonly terminal: boolean,
    private readonly paintStatus: (text: string) => string,
  ) {}

  print(line: string): void {
    if (!this.terminal) {
      this.output.write(`${line}\n`);
      return;
    }
    if (this.closed) {
      this.output.write(`\r\x1b[K${line}\n`);
      return;
    }
    this.redraw(() => this.output.write(`${line}\n`));
  }

  /**
   * Shows `text` on the status line, cut to the terminal's width so that it stays one
   * row; '' removes the line. Nothing from a pipe: the output there is plain lines.
   */
  setStatus(text: string): void {
    if (!this.terminal || this.closed) return;
    const chars = [...text];
    const width = Math.max(2, this.output.columns || 80) - 1;
    const fitted = chars.length > width ? `${chars.slice(0, width - 1).join('')}…` : text;
    if (fitted === this.status) return;
    this.redraw(() => {
      this.status = fitted;
    });
  }

  /**
   * Wipes the status line, the prompt and whatever is typed (it may wrap over several
   * rows), lets `between` write, draws the status line again, then lets readline draw the
   * prompt and the typed text, cursor included.
   */
  private redraw(between: () => void): void {
    readline.moveCursor(this.output, 0, -(this.rl.getCursorPos().rows + (this.status === '' ? 0 : 1)));
    readline.cursorTo(this.output, 0);
    readline.clearScreenDown(this.output);
    between();
    if (this.status !== '') this.output.write(`${this.paintStatus(this.status)}\n`);
    this.rl.prompt(true);
  }

  /**
   * Removes the line just entered: the message shows up again when the server sends it
   * back, with its time and name. Counting code points undercounts wide characters, so a
   * doubtful case erases too little, never a line above.
   */
  eraseEntered(line: string): void {
    if (!this.terminal) return;
    const width = [...this.rl.getPrompt()].length + [...line].length;
    const rows = Math.max(1, Math.ceil(width / Math.max(1, this.output.columns || 80)));
    readline.moveCursor(this.output, 0, -rows);
    readline.clearScreenDown(this.output);
  }

  prompt(): void {
    if (this.terminal && !this.closed) this.rl.prompt();
  }

  /** From now on lines are just written; in a terminal the status and prompt lines are wiped first. */
  close(): void {
    this.closed = true;
    if (!this.terminal) return;
    if (this.status !== '') readline.moveCursor(this.output, 0, -1);
    this.status = '';
    this.output.write('\r\x1b[J');
  }
}

/** `[alpha] alice> `: the room, and the name once the server has given one. */
function promptFor(room: string, name: string | undefined): string {
  return `[${room}] ${name === undefined ? '' : visible(name)}> `;
}

/** Runs until /quit, Ctrl-D, the end of piped input or `signal`; resolves with the exit code. */
export function runInteractive(options: CliOptions, term: Terminal, signal: AbortSignal): Promise<number> {
  const terminal = Boolean(term.input.isTTY && term.output.isTTY);
  const format = new TerminalFormat(term.output.isTTY && term.output.hasColors());
  format.ids = options.mode.kind === 'interactive' && options.mode.ids;
  const textMode = options.connection.transport === 'raw' && options.connection.rawFormat === 'text';
  const rl = readline.createInterface({
    input: term.input,
    output: term.output,
    terminal,
    prompt: promptFor(options.connection.room, undefined),
  });
  const screen = new Screen(rl, term.output, terminal, (text) => format.hint(text));
  const pending = new Set<Promise<unknown>>();
  let reconnecting = false;
  let failure: string | undefined;
  /**
   * The room a moderator kicked this client from, while it has not joined again. The
   * session has ended (it does not come back on its own); the terminal stays, and
   * /join takes it back in, or to another room. A ban ends the terminal instead.
   */
  let kickedFrom: string | undefined;
  /** What was typed while the connection was down, oldest first; `done` once sent or dropped. */
  const queued: { text: string; done(): void }[] = [];
  const typingNames = new TypingNames((names) => screen.setStatus(typingSummary(names.map(visible))));

  /** Sends still under way may finish, for a while, before their session is closed. */
  const drained = () => {
    const all = Promise.allSettled([...pending]);
    const deadline = new Promise((done) => setTimeout(done, DRAIN_TIMEOUT_MS).unref());
    return Promise.race([all, deadline]);
  };

  /** Each session's view of its room's messages. */
  const views = new WeakMap<ChatSession, MessageView>();

  /**
   * A session in `room`. Only the current one is heard: one being closed after a /join
   * may still deliver a last event or two. `previous` is the room to go back to when this
   * one was reached by /join and cannot be joined at all.
   */
  const open = (room: string, previous: string | undefined): ChatSession => {
    const where = describeWhere({ url: options.connection.url, room });
    let connectedOnce = false;
    /** A moderator ended this session: a kick (the terminal stays) or a ban (it stops). */
    let kicked: 'kick' | 'ban' | undefined;
    // Read markers are not shown: they are for the page's unread counts, and would be noise here.
    const current: ChatSession = nodeSession({ ...options.connection, room }, 'once-connected', {
      status: (status: SessionStatus) => {
        if (current !== session) return;
        if (status.state !== 'connected') typingNames.clear();
        if (status.state === 'reconnecting') reconnecting = true;
        if (status.state === 'failed') {
          if (kicked === 'kick') {
            kickedFrom = room;
            dropQueued(`kicked from room ${room}`);
            screen.print(format.problem(`${visible(status.reason)}; /join ${room} goes back in, /quit leaves`));
            rl.setPrompt(promptFor(room, undefined));
            screen.prompt();
            return;
          }
          if (previous !== undefined && !connectedOnce) {
            screen.print(format.problem(`cannot join room ${room}: ${status.reason}; back to room ${previous}`));
            switchTo(previous, undefined);
            return;
          }
          failure = status.reason;
          dropQueued('the connection is gone for good');
          rl.close();
          return;
        }
        if (status.state !== 'closed') screen.print(format.status(visible(describeStatus(status, where))));
        if (status.state === 'connected') {
          reconnecting = false;
          connectedOnce = true;
          sendQueued();
        }
      },
      chat: (message) => {
        if (current !== session) return;
        typingNames.stopped(message.name);
        view.chat(message);
      },
      kicked: (ended) => {
        if (current === session) kicked = ended.reason === BANNED ? 'ban' : 'kick';
      },
      notice: (notice, own) => {
        if (current !== session) return;
        view.notice(notice, own);
        if (own) rl.setPrompt(promptFor(room, notice.name));
        if (notice.kind === 'leave') typingNames.stopped(notice.name);
        screen.print(format.notice(notice));
      },
      history: (messages) => {
        if (current === session) view.history(messages);
      },
      presence: (presence) => {
        // Not shown: the join and leave lines say who comes and goes. Kept for /kick, /ban and /mute.
        if (current === session) view.presence(presence);
      },
      typing: (who) => {
        // Shown on the status line, in a terminal (Socket.IO only: raw clients get none).
        if (current === session) typingNames.typing(who.name);
      },
      seedFrame: (text) => {
        if (current === session) screen.print(format.seedFrame(text, Date.now()));
      },
      edited: (edit) => {
        if (current === session) view.edited(edit);
      },
      deleted: (deleted) => {
        if (current === session) view.deleted(deleted);
      },
      reaction: (reaction) => {
        if (current === session) view.reaction(reaction);
      },
    });
    const view = new MessageView({
      session: current,
      format,
      print: (line) => screen.print(line),
      current: () => current === session,
      textMode,
    });
    views.set(current, view);
    return current;
  };

  let session = open(options.connection.room, undefined);

  /** Leaves the current room (letting its sends finish) and joins `room`. */
  function switchTo(room: string, previous: string | undefined): void {
    const leaving = session;
    kickedFrom = undefined;
    dropQueued(`left room ${leaving.room}`);
    typingNames.clear();
    reconnecting = false;
    rl.setPrompt(promptFor(room, undefined));
    session = open(room, previous);
    void drained().then(() => leaving.close());
    session.start();
  }

  const join = (argument: string) => {
    const room = argument.trim();
    if (room === '') {
      const where = kickedFrom === undefined ? `you are in room ${session.room}` : `kicked from room ${kickedFrom}`;
      screen.print(format.status(`${where}; /join ROOM moves to another`));
      return;
    }
    if (!isRoomName(room)) {
      screen.print(format.problem(roomNameProblem(room)));
      return;
    }
    if (kickedFrom !== undefined) {
      // Nowhere to go back to if this one fails: the room it was kicked from is no place to wait.
      screen.print(format.status(`joining room ${room}`));
      switchTo(room, undefined);
      return;
    }
    if (room === session.room) {
      screen.print(format.status(`already in room ${room}`));
      return;
    }
    screen.print(format.status(`leaving room ${session.room} for room ${room}`));
    switchTo(room, session.room);
  };

  /** Hands `text` to the session; resolves with whether the server took it. */
  const sendNow = (text: string): Promise<boolean> => {
    const view = views.get(session);
    const sent = session.send(text).then(
      (id) => {
        view?.sent(id);
        return true;
      },
      (err: unknown) => {
        const why = err instanceof ChatRefusedError ? describeChatRefusal(err.code, err.reason) : err instanceof Error ? err.message : String(err);
        screen.print(format.problem(`not sent: ${why}`));
        return false;
      },
    );
    pending.add(sent);
    void sent.finally(() => pending.delete(sent));
    return sent;
  };

  /** While the connection is down: keeps `text` for later, up to MAX_QUEUED lines. */
  const enqueue = (text: string) => {
    if (queued.length >= MAX_QUEUED) {
      screen.print(format.problem(`not connected and ${queuedMessages(queued.length)} already: dropped ${visible(text)}`));
      return;
    }
    let done = () => {};
    // Leaving waits for it as for any send under way (DRAIN_TIMEOUT_MS): the connection may come back.
    const waiting = new Promise<void>((resolve) => {
      done = resolve;
    });
    pending.add(waiting);
    void waiting.then(() => pending.delete(waiting));
    queued.push({ text, done });
    screen.print(format.status(`not connected: queued (${queued.length} waiting, sent once the connection is back)`));
  };

  /** The connection is back: what was queued goes out, in the order it was typed. */
  const sendQueued = () => {
    if (queued.length === 0) return;
    const batch = queued.splice(0);
    screen.print(format.status(`sending ${queuedMessages(batch.length)}`));
    const results = batch.map((entry) => {
      const sent = sendNow(entry.text);
      entry.done();
      return sent;
    });
    void Promise.all(results).then((taken) => {
      const count = taken.filter(Boolean).length;
      screen.print(format.status(count === batch.length ? `sent ${queuedMessages(count)}` : `sent ${count} of ${queuedMessages(batch.length)}`));
    });
  };

  /** What was queued will never go out: says so. */
  function dropQueued(why: string): void {
    if (queued.length === 0) return;
    const batch = queued.splice(0);
    screen.print(format.problem(`${queuedMessages(batch.length)} not sent: ${why}`));
    for (const entry of batch) entry.done();
  }

  const send = (text: string) => {
    if (kickedFrom !== undefined) screen.print(format.problem(`not sent: kicked from room ${kickedFrom}; /join ${kickedFrom} goes back in`));
    else if (reconnecting) enqueue(text);
    else void sendNow(text);
  };

  const command = (text: string) => {
    const [verb = '', ...rest] = text.split(/\s+/);
    switch (verb) {
      case '/quit':
        rl.close();
        return;
      case '/join':
        join(rest.join(' '));
        return;
      case '/help': {
        const where = kickedFrom === undefined ? `you are in room ${session.room}` : `kicked from room ${kickedFrom}`;
        for (const help of [...HELP, where]) screen.print(format.status(help));
        return;
      }
      default:
        if (MESSAGE_VERBS.has(verb)) views.get(session)?.run(verb, text.slice(verb.length).trim());
        else screen.print(format.status(`unknown command ${text}; /help lists them`));
    }
  };

  rl.on('line', (line) => {
    screen.eraseEntered(line);
    const text = line.trim();
    if (text === '') {
      screen.prompt();
      return;
    }
    if (text.startsWith('/') && !text.startsWith('//')) {
      command(text);
      return;
    }
    send(line.startsWith('//') ? line.slice(1) : line);
    screen.prompt();
  });

  if (terminal) {
    // Tell the others while a message is being written (Socket.IO only; at most one event
    // per interval, see ChatSession.typing).
    term.input.on('keypress', (_text: string | undefined, key: { name?: string } | undefined) => {
      if (key?.name === 'return' || key?.name === 'enter') return;
      if (rl.line.trim() !== '' && !rl.line.startsWith('/')) session.typing();
    });
  }
  rl.on('SIGINT', () => rl.close());
  signal.addEventListener('abort', () => rl.close(), { once: true });

  return new Promise((resolve) => {
    rl.once('close', () => {
      screen.close();
      typingNames.clear();
      // Piped input ends as soon as it is read: give the messages time to reach the server
      // (and queued ones time for the connection to come back).
      void drained()
        .then(() => {
          dropQueued('left before the connection came back');
          return session.close();
        })
        .then(() => {
          if (failure === undefined) {
            screen.print(format.status('disconnected'));
            resolve(0);
          } else {
            term.errors.write(`chat: ${visible(failure)}\n`);
            resolve(1);
          }
        });
    });
    session.start();
    screen.prompt();
  });
}
