/**
 * The text of every bench chat message: `#<sender>.<seq>.<sentUs>.<room>.` padded with
 * `x` to PAYLOAD_BYTES. Only ASCII digits, dots and `x`, so it needs no escaping in JSON
 * and a receiver can find it in a Socket.IO frame by its `#` without parsing the JSON.
 * `sentUs` is `nowUs()` of clock.ts, comparable across processes. `room` is the index of
 * the room it was sent to among the trial's rooms (0 in a one-room trial), so that a
 * receiver can tell a message of its own room from one that strayed from another.
 */
export const PAYLOAD_BYTES = 64;

const MARK = 0x23; // '#'
const DOT = 0x2e; // '.'
const FIELDS = 4;

export function makePayload(sender: number, seq: number, sentUs: number, room: number): string {
  const head = `#${sender}.${seq}.${sentUs}.${room}.`;
  return head.length >= PAYLOAD_BYTES ? head : head + 'x'.repeat(PAYLOAD_BYTES - head.length);
}

export interface Payload {
  sender: number;
  seq: number;
  sentUs: number;
  room: number;
}

/**
 * Reads the fields back from a received frame (raw text or a whole Socket.IO packet),
 * straight from the bytes. Returns null if the frame carries no bench payload.
 */
export function readPayload(frame: Buffer): Payload | null {
  const at = frame.indexOf(MARK);
  if (at < 0) return null;
  const fields = [0, 0, 0, 0];
  let field = 0;
  for (let i = at + 1; i < frame.length && field < FIELDS; i += 1) {
    const byte = frame[i] as number;
    if (byte === DOT) field += 1;
    else if (byte >= 0x30 && byte <= 0x39) fields[field] = (fields[field] as number) * 10 + (byte - 0x30);
    else return null;
  }
  if (field < FIELDS) return null;
  return { sender: fields[0] as number, seq: fields[1] as number, sentUs: fields[2] as number, room: fields[3] as number };
}
