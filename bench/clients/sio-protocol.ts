import { roomNamespace, SOCKET_IO_PATH } from '../../server/protocol';
import type { WireProtocol } from './bench-client';

// Engine.IO v4 packet types are the first character; Socket.IO v5 packets ride in
// Engine.IO "message" packets (4) and start with their own type: 0 connect, 2 event.
const EIO_OPEN = 0x30; // '0{"sid":...}'
const EIO_PING = 0x32; // '2'
const CHAT = 0x63; // 'c'
const NOTICE = 0x6e; // 'n'
const HISTORY = 0x68; // 'h'
const PRESENCE = 0x70; // 'p'

/** Whether `frame` begins with `prefix`. A loop, not Buffer.compare: most prefixes are two bytes. */
function startsWith(frame: Buffer, prefix: Buffer): boolean {
  if (frame.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i += 1) if (frame[i] !== prefix[i]) return false;
  return true;
}

/**
 * A thin Socket.IO client in the namespace of `room`: the WebSocket transport from the
 * first request (no polling, no upgrade), pings answered, events told apart by their
 * first letter. The lobby is the namespace `/`, whose packets carry no namespace
 * (`40`, `42["chat",...]`); any other namespace names itself after the packet type
 * (`40/alpha,`, `42/alpha,["chat",...]`), and a packet of another namespace is an
 * error: this client joined one only. The bench payload needs no JSON escaping, so a
 * chat is built as a string.
 */
export function sioProtocol(room: string): WireProtocol {
  const namespace = roomNamespace(room);
  const prefix = namespace === '/' ? '' : `${namespace},`;
  const connectPacket = `40${prefix}`;
  const connected = Buffer.from(connectPacket);
  const connectError = Buffer.from(`44${prefix}`);
  const event = Buffer.from(`42${prefix}`);
  // The first letter of the event's name, past the prefix and '["'.
  const eventInitial = event.length + 2;
  return {
    path: `${SOCKET_IO_PATH}/?EIO=4&transport=websocket`,
    readyOnOpen: false,
    onFrame(frame, events, send, ready, refused) {
      if (startsWith(frame, event)) {
        const initial = frame[eventInitial];
        if (initial === CHAT) events.chat(frame);
        else if (initial === NOTICE) events.notice();
        // A newcomer's `history` and `presence` come once, before any notice: not counted.
        else if (initial !== HISTORY && initial !== PRESENCE) events.error(`unexpected event: ${frame.toString('utf8', 0, 60)}`);
      } else if (frame[0] === EIO_PING && frame.length === 1) {
        send('3');
      } else if (frame[0] === EIO_OPEN) {
        send(connectPacket);
      } else if (startsWith(frame, connected)) {
        ready();
      } else if (startsWith(frame, connectError)) {
        // e.g. `44/room-7,{"message":"room_limit"}`: the namespace would not take us.
        refused(frame.toString('utf8', connectError.length));
      } else {
        events.error(`unexpected packet: ${frame.toString('utf8', 0, 60)}`);
      }
    },
    chatFrame: (text) => `42${prefix}["chat","${text}"]`,
  };
}
