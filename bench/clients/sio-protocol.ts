import { SOCKET_IO_PATH } from '../../server/protocol';
import type { WireProtocol } from './bench-client';

// Engine.IO v4 packet types are the first character; Socket.IO v5 packets ride in
// Engine.IO "message" packets (4) and start with their own type: 0 connect, 2 event.
const EIO_OPEN = 0x30; // '0{"sid":...}'
const EIO_PING = 0x32; // '2'
const EIO_MESSAGE = 0x34; // '4...'
const SIO_CONNECT = 0x30; // '40{"sid":...}'
const SIO_EVENT = 0x32; // '42["name",...]'
// The fifth byte of '42["chat",...' names the event.
const EVENT_INITIAL = 4;
const CHAT = 0x63; // 'c'
const NOTICE = 0x6e; // 'n'
const HISTORY = 0x68; // 'h'
const PRESENCE = 0x70; // 'p'

/**
 * A thin Socket.IO client: the WebSocket transport from the first request (no polling,
 * no upgrade), the namespace `/`, pings answered, events told apart by their first
 * letter. The bench payload needs no JSON escaping, so a chat is built as a string.
 */
export const sioProtocol: WireProtocol = {
  path: `${SOCKET_IO_PATH}/?EIO=4&transport=websocket`,
  readyOnOpen: false,
  onFrame(frame, events, send, ready) {
    const type = frame[0];
    if (type === EIO_MESSAGE && frame[1] === SIO_EVENT) {
      const initial = frame[EVENT_INITIAL];
      if (initial === CHAT) events.chat(frame);
      else if (initial === NOTICE) events.notice();
      // A newcomer's `history` and `presence` come once, before any notice: not counted.
      else if (initial !== HISTORY && initial !== PRESENCE) events.error(`unexpected event: ${frame.toString('utf8', 0, 60)}`);
    } else if (type === EIO_PING && frame.length === 1) {
      send('3');
    } else if (type === EIO_OPEN) {
      send('40');
    } else if (type === EIO_MESSAGE && frame[1] === SIO_CONNECT) {
      ready();
    } else {
      events.error(`unexpected packet: ${frame.toString('utf8', 0, 60)}`);
    }
  },
  chatFrame: (text) => `42["chat","${text}"]`,
};
