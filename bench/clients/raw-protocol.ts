import { rawRoomPath } from '../../server/protocol';
import type { WireProtocol } from './bench-client';

const NOTICE = 0x53; // 'S' of "Server: ...", the seed's notices
const CHAT = 0x23; // '#' of a bench payload

/**
 * The seed's protocol on `/socket` (the lobby) or `/socket/<room>`: every text frame is a
 * message or a notice, verbatim. A raw frame does not say its room; the payload does
 * (payload.ts), and the worker checks it.
 */
export function rawProtocol(room: string): WireProtocol {
  return {
    path: rawRoomPath(room),
    readyOnOpen: true,
    onFrame(frame, events) {
      const first = frame[0];
      if (first === CHAT) events.chat(frame);
      else if (first === NOTICE) events.notice();
      else events.error(`unexpected raw frame: ${frame.toString('utf8', 0, 60)}`);
    },
    chatFrame: (text) => text,
  };
}
