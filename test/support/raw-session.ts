import { nodeConnectors } from '../../client/connect';
import type { Backoff } from '../../client/shared/backoff';
import { ChatSession, type RawFormat, type RetryPolicy, type SessionStatus } from '../../client/shared/session';
import type { ChatMessage, Notice } from '../../server/protocol';
import { onCleanup } from './cleanup';
import { EventQueue } from './event-queue';

export interface RawSessionOptions {
  rawFormat?: RawFormat;
  retry?: RetryPolicy;
  backoff?: Backoff;
}

/**
 * A started ChatSession on the raw endpoint, as a tab of the chat page or the terminal
 * client runs one, and what it handed on; closed after the test.
 */
export function startRawSession(url: string, name: string, options: RawSessionOptions = {}) {
  const statuses = new EventQueue<SessionStatus>(`${name} statuses`);
  const chats = new EventQueue<ChatMessage>(`${name} chats`);
  const notices = new EventQueue<Notice>(`${name} notices`);
  const frames = new EventQueue<string>(`${name} plain frames`);
  const ignore = () => {};
  const session = new ChatSession({
    url,
    transport: 'raw',
    rawFormat: options.rawFormat ?? 'json',
    name,
    retry: options.retry ?? 'never',
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    connectors: nodeConnectors,
    handlers: {
      status: (status) => statuses.push(status),
      chat: (message) => chats.push(message),
      notice: (notice) => notices.push(notice),
      history: ignore,
      presence: ignore,
      typing: ignore,
      seedFrame: (text) => frames.push(text),
    },
  });
  onCleanup('clients', () => session.close());
  session.start();
  return { session, statuses, chats, notices, frames };
}

export type RawSessionProbe = ReturnType<typeof startRawSession>;
