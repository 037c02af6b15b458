import type { ChatMessage, MessageEdit } from '../../server/protocol.js';
import type { ChatSession } from '../shared/session.js';
import { describeActionError, describeFailure } from './action-errors.js';
import type { MessageActions } from './message-row.js';
import { ReactionChoices } from './reactions.js';

/** What the actions need of the page besides the session. */
export interface ActionsPage {
  problem(text: string): void;
  /** This session's reaction to a message changed: its chips are drawn again. */
  reactionsChanged(id: string): void;
  /** The server took this session's edit; the room's `edit` event follows with the server's time. */
  edited(edit: MessageEdit): void;
}

/**
 * Edit, delete and react through the page's current session. "Own" messages (the ones
 * this reader may edit and delete) are those whose id came back in this session's send
 * acks, and with JWT those of the same user. Without JWT the server lets only the
 * connection that sent a message change it, so a message from another tab or an earlier
 * visit is not offered for editing.
 */
export class SessionActions implements MessageActions {
  private session: ChatSession | undefined;
  private readonly sent = new Set<string>();
  private readonly choices = new ReactionChoices();

  constructor(private readonly page: ActionsPage) {}

  /** Another session (room, name or connection kind): what the last one sent or reacted is not this one's. */
  use(session: ChatSession | undefined): void {
    this.session = session;
    this.sent.clear();
    this.choices.clear();
  }

  /**
   * The session lost its connection. Without JWT the server knows a message's author only
   * as the connection that sent it, so what the lost one sent can no longer be changed.
   */
  connectionLost(session: ChatSession): void {
    if (session === this.session && session.user === undefined) this.sent.clear();
  }

  /** This session's send() came back with the message's id. */
  ownSent(session: ChatSession, id: string): void {
    if (session === this.session) this.sent.add(id);
  }

  own(message: ChatMessage): boolean {
    if (this.sent.has(message.id)) return true;
    const user = this.session?.user;
    return user !== undefined && message.user === user;
  }

  reacted(id: string, emoji: string): boolean {
    return this.choices.has(id, emoji);
  }

  react(id: string, emoji: string): void {
    const session = this.session;
    if (session === undefined) return;
    const on = !this.choices.has(id, emoji);
    // Shown at once, so that a second click before the answer takes it back rather than
    // sending the same again; undone if the server refuses. The count comes from the
    // room's `reaction` event, which everyone gets.
    this.choices.set(id, emoji, on);
    this.page.reactionsChanged(id);
    const undo = (why: string) => {
      if (session !== this.session) return;
      this.choices.set(id, emoji, !on);
      this.page.reactionsChanged(id);
      this.page.problem(`Reaction not ${on ? 'added' : 'taken back'}: ${why}`);
    };
    session.react(id, emoji, on).then(
      (ack) => {
        if (!ack.ok) undo(describeActionError(ack.error));
      },
      (err: unknown) => undo(describeFailure(err)),
    );
  }

  edit(id: string, text: string): Promise<boolean> {
    const session = this.session;
    if (session === undefined) return Promise.resolve(false);
    return session.edit(id, text).then(
      (ack) => {
        if (!ack.ok) {
          this.page.problem(`Not edited: ${describeActionError(ack.error)}`);
          return false;
        }
        // Shown now rather than when the event comes, so the old text does not flash back.
        if (session === this.session) this.page.edited({ id, text, version: ack.version, editedAt: Date.now() });
        return true;
      },
      (err: unknown) => {
        this.page.problem(`Not edited: ${describeFailure(err)}`);
        return false;
      },
    );
  }

  remove(id: string): void {
    const session = this.session;
    if (session === undefined) return;
    session.deleteMessage(id).then(
      (ack) => {
        if (!ack.ok) this.page.problem(`Not deleted: ${describeActionError(ack.error)}`);
      },
      (err: unknown) => this.page.problem(`Not deleted: ${describeFailure(err)}`),
    );
  }
}
