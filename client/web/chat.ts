/**
 * The chat page at /chat: one ChatSession (the same code as the terminal client's) over
 * Socket.IO or, at the flip of a switch, over the raw WebSocket endpoint.
 */
import { noticeSummary } from '../shared/format.js';
import { ChatSession, type SessionStatus, type TransportKind } from '../shared/session.js';
import { browserConnectors, socketIoLoaded } from './connectors.js';
import { MessageList } from './message-list.js';
import { TypingIndicator } from './typing.js';

const STORAGE = { name: 'chat-bridge.name', transport: 'chat-bridge.transport' } as const;

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node as T;
}

const page = {
  status: byId<HTMLElement>('status'),
  statusText: byId<HTMLElement>('status-text'),
  online: byId<HTMLElement>('online'),
  name: byId<HTMLInputElement>('name'),
  transport: byId<HTMLSelectElement>('transport'),
  log: byId<HTMLElement>('log'),
  composer: byId<HTMLFormElement>('composer'),
  text: byId<HTMLInputElement>('text'),
};
const messages = new MessageList(page.log, byId<HTMLOListElement>('messages'));
const typing = new TypingIndicator(byId<HTMLElement>('typing'));

/** localStorage may be unavailable (private modes, blocked storage); the page works without it. */
const storage = {
  get(key: string): string | null {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key: string, value: string): void {
    try {
      if (value === '') window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch {
      // Not remembered this time; nothing else depends on it.
    }
  },
};

function statusWords(status: SessionStatus): string {
  switch (status.state) {
    case 'connecting':
      return status.attempt > 0 ? 'Reconnecting…' : 'Connecting…';
    case 'connected':
      return 'Connected';
    case 'reconnecting':
      return `Offline, retrying in ${Math.max(1, Math.round(status.delayMs / 1000))} s`;
    case 'failed':
      return `Offline: ${status.reason}`;
    case 'closed':
      return 'Disconnected';
  }
}

function showStatus(status: SessionStatus): void {
  page.status.dataset['state'] = status.state;
  page.statusText.textContent = statusWords(status);
  // Why it is offline, on hover.
  page.status.title = status.state === 'reconnecting' ? status.reason : '';
  if (status.state !== 'connected') typing.clear();
}

let session: ChatSession | undefined;

function connect(): void {
  void session?.close();
  typing.clear();
  page.online.textContent = '';
  const transport = page.transport.value as TransportKind;
  if (transport === 'socket.io' && !socketIoLoaded()) {
    showStatus({ state: 'failed', reason: 'the Socket.IO client script did not load' });
    return;
  }
  const name = page.name.value.trim();
  const current: ChatSession = new ChatSession({
    url: window.location.origin,
    transport,
    name: name === '' ? undefined : name,
    rawFormat: 'json',
    retry: 'always',
    connectors: browserConnectors,
    handlers: {
      status: (status) => {
        if (current === session) showStatus(status);
      },
      chat: (message) => {
        typing.stopped(message.name);
        messages.addChat(message, message.name === current.name);
      },
      notice: (notice, own) => {
        if (own && name === '') page.name.placeholder = notice.name;
        if (notice.kind === 'leave') typing.stopped(notice.name);
        page.online.textContent = `${notice.online} online`;
        messages.addNotice(own ? `You joined as ${notice.name} (${notice.online} online)` : noticeSummary(notice), notice.at);
      },
      // Sent before this client's join notice: "mine" can only go by the name asked for.
      history: (recent) => {
        for (const message of recent) messages.addChat(message, message.name === name);
      },
      typing: (who) => typing.typing(who.name),
      // Not expected in JSON mode; shown as it came rather than dropped.
      seedFrame: (text) => messages.addNotice(text, Date.now()),
    },
  });
  session = current;
  current.start();
}

page.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = page.text.value;
  if (text.trim() === '' || session === undefined) return;
  if (page.status.dataset['state'] !== 'connected') {
    // Kept in the box, to send once the connection is back.
    page.statusText.textContent = 'Not connected yet; your message is still in the box';
    return;
  }
  page.text.value = '';
  session.send(text).catch((err: unknown) => {
    messages.addProblem(`Not sent: ${err instanceof Error ? err.message : String(err)}`);
  });
});

page.text.addEventListener('input', () => {
  if (page.text.value.trim() !== '') session?.typing();
});

page.name.addEventListener('change', () => {
  page.name.value = page.name.value.trim();
  storage.set(STORAGE.name, page.name.value);
  connect();
});
page.name.addEventListener('keydown', (event) => {
  if (event.key === 'Enter') page.name.blur();
});

page.transport.addEventListener('change', () => {
  storage.set(STORAGE.transport, page.transport.value);
  connect();
});

page.name.value = storage.get(STORAGE.name) ?? '';
const savedTransport = storage.get(STORAGE.transport);
if (savedTransport === 'raw' || savedTransport === 'socket.io') page.transport.value = savedTransport;
connect();
