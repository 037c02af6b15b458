import { ChatSession, type ChatSocket, type Connectors, type SessionHandlers } from '../client/shared/session';
import { rawSocketUrl, socketIoRoomUrl } from '../client/shared/urls';
import { parseCliArgs } from '../client/args';
import { connectChat } from '../client/connect';
import { onCleanup } from './support/cleanup';
import { EventQueue } from './support/event-queue';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

describe('room addresses', () => {
  it('keeps the lobby where it always was, and puts other rooms after it', () => {
    expect(rawSocketUrl('http://localhost:8000')).toBe('ws://localhost:8000/socket');
    expect(rawSocketUrl('https://chat.example.com/ignored', { name: 'a b', since: undefined }, 'lobby')).toBe(
      'wss://chat.example.com/socket?name=a+b',
    );
    expect(rawSocketUrl('http://localhost:8000', { format: 'json' }, 'design.v2')).toBe('ws://localhost:8000/socket/design.v2?format=json');
    expect(socketIoRoomUrl('ws://localhost:8000/socket')).toBe('http://localhost:8000');
    expect(socketIoRoomUrl('http://localhost:8000', 'lobby')).toBe('http://localhost:8000');
    expect(socketIoRoomUrl('http://localhost:8000', 'ops')).toBe('http://localhost:8000/ops');
  });

  it.each(['', 'Ops', '../admin', 'a..b', '-x', 'a/b', 'x'.repeat(65)])('refuses %j rather than let URL resolve it somewhere else', (room) => {
    expect(() => rawSocketUrl('http://localhost:8000', {}, room)).toThrow(RangeError);
    expect(() => socketIoRoomUrl('http://localhost:8000', room)).toThrow(RangeError);
  });
});

describe('ChatSession in a room', () => {
  const handlers: SessionHandlers = {
    status: () => {},
    chat: () => {},
    notice: () => {},
    history: () => {},
    presence: () => {},
    typing: () => {},
    seedFrame: () => {},
  };

  /** Connectors that only record what they were asked to open. */
  function recording() {
    const opened: string[] = [];
    const connectors: Connectors = {
      socketIo: (url, name, room) => {
        opened.push(`socket.io ${url} ${name ?? '-'} ${room}`);
        return { on: () => undefined, connect: () => undefined } as unknown as ChatSocket;
      },
      webSocket: (url) => {
        opened.push(`raw ${url}`);
        return { send: () => Promise.resolve(), close: () => Promise.resolve() };
      },
      describeError: () => 'failed',
    };
    return { opened, connectors };
  }

  it('opens the room it was given over either transport, the lobby without one', () => {
    const { opened, connectors } = recording();
    const base = { url: 'http://localhost:8000', retry: 'never' as const, connectors, handlers };
    new ChatSession({ ...base, transport: 'socket.io', name: 'ann', room: 'ops' }).start();
    new ChatSession({ ...base, transport: 'socket.io' }).start();
    new ChatSession({ ...base, transport: 'raw', rawFormat: 'json', name: 'ann', room: 'ops' }).start();
    const lobby = new ChatSession({ ...base, transport: 'raw' });
    lobby.start();
    expect(lobby.room).toBe('lobby');
    expect(opened).toEqual([
      'socket.io http://localhost:8000 ann ops',
      'socket.io http://localhost:8000 - lobby',
      'raw ws://localhost:8000/socket/ops?name=ann&format=json&ack=1',
      'raw ws://localhost:8000/socket',
    ]);
  });

  it('refuses a malformed room before connecting at all', () => {
    const { opened, connectors } = recording();
    expect(
      () => new ChatSession({ url: 'http://localhost:8000', transport: 'raw', room: '../x', retry: 'never', connectors, handlers }),
    ).toThrow('not a room name: "../x"');
    expect(opened).toEqual([]);
  });
});

describe('terminal client arguments', () => {
  it('takes --room in every mode, the lobby by default', () => {
    const room = (args: string[]) => {
      const options = parseCliArgs(args);
      return options === 'help' ? 'help' : options.connection.room;
    };
    expect(room([])).toBe('lobby');
    expect(room(['--room', 'ops'])).toBe('ops');
    expect(room(['--send', 'hi', '--room', 'ops'])).toBe('ops');
    expect(room(['--listen', '--raw', '--json', '--room', 'ops'])).toBe('ops');
  });
});

describe('connectChat in several rooms', () => {
  it('joins them over one connection, and each socket hears its own room only', async () => {
    const server = await startTestServer();
    const alphaReader = await connectSio(server.url, { room: 'alpha' });
    await alphaReader.notices.next();

    const inAlpha = connectChat(server.url, { name: 'multi', room: 'alpha', reconnection: false });
    const inBeta = connectChat(server.url, { name: 'multi', room: 'beta', reconnection: false });
    onCleanup('clients', () => {
      // The shared connection closes once its last socket is gone.
      inAlpha.disconnect();
      inBeta.disconnect();
    });
    expect(inAlpha.io).toBe(inBeta.io);
    const betaChats = new EventQueue<string>('beta chats');
    inBeta.on('chat', (message) => betaChats.push(message.text));
    await Promise.all([inAlpha, inBeta].map((socket) => new Promise((resolve) => socket.once('connect', () => resolve(undefined)))));

    expect(await inAlpha.emitWithAck('chat', 'to alpha')).toMatchObject({ ok: true });
    expect(await alphaReader.chats.next()).toMatchObject({ name: 'multi', text: 'to alpha' });
    expect(await inBeta.emitWithAck('chat', 'to beta')).toMatchObject({ ok: true });
    // Had "to alpha" reached the beta socket, it would have come first.
    expect(await betaChats.next()).toBe('to beta');
  });
});
