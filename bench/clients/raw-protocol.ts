import { RAW_PATH } from '../../server/protocol';
import type { WireProtocol } from './bench-client';

const NOTICE = 0x53; // 'S' of "Server: ...", the seed's notices
const CHAT = 0x23; // '#' of a bench payload

/** The seed's protocol on `/socket`: every text frame is a message or a notice, verbatim. */
export const rawProtocol: WireProtocol = {
  path: RAW_PATH,
  readyOnOpen: true,
  onFrame(frame, events) {
    const first = frame[0];
    if (first === CHAT) events.chat(frame);
    else if (first === NOTICE) events.notice();
    else events.error(`unexpected raw frame: ${frame.toString('utf8', 0, 60)}`);
  },
  chatFrame: (text) => text,
};
