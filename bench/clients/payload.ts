/**
 * The text of every bench chat message: `#<sender>.<seq>.<sentUs>.` padded with `x` to
 * PAYLOAD_BYTES. Only ASCII digits, dots and `x`, so it needs no escaping in JSON and a
 * receiver can find it in a Socket.IO frame by its `#` without parsing the JSON.
 * `sentUs` is `nowUs()` of clock.ts, comparable across processes.
 */
export const PAYLOAD_BYTES = 64;

const MARK = 0x23; // '#'
const DOT = 0x2e; // '.'

export function makePayload(sender: number, seq: number, sentUs: number): string {
  const head = `#${sender}.${seq}.${sentUs}.`;
  return head.length >= PAYLOAD_BYTES ? head : head + 'x'.repeat(PAYLOAD_BYTES - head.length);
}

export interface Payload {
  sender: number;
  seq: number;
  sentUs: number;
}

/**
 * Reads the fields back from a received frame (raw text or a whole Socket.IO packet),
 * straight from the bytes. Returns null if the frame carries no bench payload.
 */
export function readPayload(frame: Buffer): Payload | null {
  const at = frame.indexOf(MARK);
  if (at < 0) return null;
  const fields = [0, 0, 0];
  let field = 0;
  for (let i = at + 1; i < frame.length && field < 3; i += 1) {
    const byte = frame[i] as number;
    if (byte === DOT) field += 1;
    else if (byte >= 0x30 && byte <= 0x39) fields[field] = (fields[field] as number) * 10 + (byte - 0x30);
    else return null;
  }
  if (field < 3) return null;
  return { sender: fields[0] as number, seq: fields[1] as number, sentUs: fields[2] as number };
}
