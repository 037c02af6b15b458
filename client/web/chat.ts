/**
 * The chat page at /chat: one ChatSession (the same code as the terminal client's) over
 * Socket.IO or, at the flip of a switch, over the raw WebSocket endpoint, in the room the
 * URL names: `/chat#room=alpha` (the lobby without one). Another room is another session,
 * opened without reloading the page.
 */
import { DEFAULT_ROOM, MAX_ROOM_NAME_LENGTH, isRoomName } from '../../server/protocol.js';
import { isRoomRefusal, noticeSummary } from '../shared/format.js';
import { EMPTY_PRESENCE, applyNotice, presenceFrom, type RoomPresence } from '../shared/presence.js';
import { ChatSession, type SessionStatus, type TransportKind } from '../shared/session.js';
import { browserConnectors, socketIoLoaded } from './connectors.js';
import { MessageList } from './message-list.js';
import { PresenceList } from './presence-list.js';
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
  roomLabel: byId<HTMLElement>('room-label'),
  roomForm: byId<HTMLFormElement>('room-form'),
  room: byId<HTMLInputElement>('room'),
  roomProblem: byId<HTMLElement>('room-problem'),
  log: byId<HTMLElement>('log'),
  composer: byId<HTMLFormElement>('composer'),
  text: byId<HTMLInputElement>('text'),
};
const messages = new MessageList(page.log, byId<HTMLOListElement>('messages'));
const typing = new TypingIndicator(byId<HTMLElement>('typing'));
const presenceList = new PresenceList(byId<HTMLUListElement>('members'), byId<HTMLElement>('presence-note'));

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
  // The server turning the room down is said where the room is chosen, too, until it lets us in.
  const refusal = status.state === 'reconnecting' || status.state === 'failed' ? status.reason : '';
  if (isRoomRefusal(refusal)) showRoomProblem(`Room ${shownRoom()}: ${refusal}`, true);
  else if (status.state === 'connected' && refusalShown) showRoomProblem('');
}

/** Whether the room problem on show is the server's refusal (gone once it lets us in). */
let refusalShown = false;

function showRoomProblem(text: string, refusal = false): void {
  refusalShown = refusal;
  page.roomProblem.textContent = text;
  page.roomProblem.hidden = text === '';
  page.room.setAttribute('aria-invalid', String(text !== ''));
}

/** What the URL asks for: `#room=<name>`, the lobby without one. Not yet checked. */
function requestedRoom(): string {
  return new URLSearchParams(window.location.hash.slice(1)).get('room') ?? DEFAULT_ROOM;
}

/** The fragment for `room`; setting it to another value is what switches rooms. */
function roomFragment(room: string): string {
  return `#${new URLSearchParams({ room }).toString()}`;
}

let session: ChatSession | undefined;
let presence: RoomPresence = EMPTY_PRESENCE;
/** The room whose messages the list shows: a new name or transport in it keeps them. */
let listedRoom: string | undefined;

function shownRoom(): string {
  return session?.room ?? requestedRoom();
}

/** Shows the room the page is in, in the header, the room field and the tab's history. */
function showRoom(room: string): void {
  page.roomLabel.textContent = `# ${room}`;
  page.room.value = room;
  if (window.location.hash !== roomFragment(room)) {
    // Replaced, not pushed: a malformed or missing room is not a step to go back to.
    window.history.replaceState(null, '', roomFragment(room));
  }
}

function showPresence(next: RoomPresence): void {
  presence = next;
  presenceList.show(next.members, session?.name);
}

function notARoomName(text: string, fallback: string): string {
  return `“${text}” is not a room name: use 1-${MAX_ROOM_NAME_LENGTH} of a-z 0-9 - _ . starting with a letter or a digit, never "..". You are in ${fallback}.`;
}

/** (Re)connects in the room the URL names; a malformed one is refused here, and the lobby opened. */
function connect(): void {
  void session?.close();
  session = undefined;
  typing.clear();
  page.online.textContent = '';
  let room = requestedRoom();
  if (isRoomName(room)) {
    showRoomProblem('');
  } else {
    showRoomProblem(notARoomName(room, DEFAULT_ROOM));
    room = DEFAULT_ROOM;
  }
  showRoom(room);
  if (room !== listedRoom) messages.clear();
  listedRoom = room;
  const transport = page.transport.value as TransportKind;
  presenceList.listed(transport === 'socket.io');
  showPresence(EMPTY_PRESENCE);
  if (transport === 'socket.io' && !socketIoLoaded()) {
    showStatus({ state: 'failed', reason: 'the Socket.IO client script did not load' });
    return;
  }
  const name = page.name.value.trim();
  const current: ChatSession = new ChatSession({
    url: window.location.origin,
    transport,
    name: name === '' ? undefined : name,
    room,
    rawFormat: 'json',
    retry: 'always',
    connectors: browserConnectors,
    handlers: {
      status: (status) => {
        if (current === session) showStatus(status);
      },
      chat: (message) => {
        if (current !== session) return;
        typing.stopped(message.name);
        messages.addChat(message, message.name === current.name);
      },
      notice: (notice, own) => {
        if (current !== session) return;
        if (own && name === '') page.name.placeholder = notice.name;
        showPresence(applyNotice(presence, notice, own));
        if (notice.kind === 'leave') typing.stopped(notice.name);
        page.online.textContent = `${notice.online} online`;
        messages.addNotice(own ? `You joined as ${notice.name} (${notice.online} online)` : noticeSummary(notice), notice.at);
      },
      // Sent before this client's join notice: "mine" can only go by the name asked for.
      history: (recent) => {
        if (current !== session) return;
        for (const message of recent) messages.addChat(message, message.name === name);
      },
      presence: (snapshot) => {
        if (current !== session) return;
        page.online.textContent = `${snapshot.online} online`;
        showPresence(presenceFrom(snapshot));
      },
      typing: (who) => {
        if (current === session) typing.typing(who.name);
      },
      // Not expected in JSON mode; shown as it came rather than dropped.
      seedFrame: (text) => {
        if (current === session) messages.addNotice(text, Date.now());
      },
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

page.roomForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = page.room.value.trim();
  if (!isRoomName(room)) {
    showRoomProblem(room === '' ? `Type a room name, e.g. ${DEFAULT_ROOM}.` : notARoomName(room, shownRoom()));
    return;
  }
  showRoomProblem('');
  // The hashchange that follows reconnects; the same room again is left as it is.
  if (room !== session?.room) window.location.hash = roomFragment(room);
});

// A new fragment (the room field, a link, Back or Forward) is a room switch, never a reload.
window.addEventListener('hashchange', () => {
  const room = requestedRoom();
  if (session !== undefined && !isRoomName(room)) {
    // Typed into the address bar: say so, and stay where the page is.
    showRoomProblem(notARoomName(room, session.room));
    showRoom(session.room);
    return;
  }
  if (room !== session?.room) connect();
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
