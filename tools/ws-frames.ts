/**
 * WebSocket frames as a hand-written peer writes and reads them, for the benchmark's
 * clients and the tests' misbehaving peers. In tools/ so that both may import it.
 */

/** WebSocket opcodes (RFC 6455, section 5.2) that a bench client or a test peer meets. */
export const Opcode = { Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

/**
 * Splits the byte stream from a server into WebSocket frames, with no copy for frames
 * that arrive whole. The payload handed to `onFrame` may be a view of a buffer that the
 * next read overwrites: use it before returning.
 *
 * Why not `ws`'s Receiver: it is a Writable stream that allocates per frame, and on a
 * two-core machine the clients share one core; at a million deliveries a second the
 * client, not the server, would set the pace.
 */
export class FrameReader {
  private carry: Buffer | null = null;

  constructor(
    private readonly onFrame: (opcode: number, payload: Buffer) => void,
    private readonly onError: (message: string) => void,
  ) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.carry !== null) {
      data = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    let offset = 0;
    while (data.length - offset >= 2) {
      const first = data[offset] as number;
      const second = data[offset + 1] as number;
      if ((first & 0x80) === 0 || (second & 0x80) !== 0) {
        // Servers here never fragment, and server frames are never masked.
        this.onError(`unexpected frame header ${first.toString(16)} ${second.toString(16)}`);
        return;
      }
      let length = second & 0x7f;
      let header = 2;
      if (length === 126) {
        if (data.length - offset < 4) break;
        length = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (data.length - offset < 10) break;
        length = Number(data.readBigUInt64BE(offset + 2));
        header = 10;
      }
      if (data.length - offset < header + length) break;
      this.onFrame(first & 0x0f, data.subarray(offset + header, offset + header + length));
      offset += header + length;
    }
    // The rest is the start of a frame; the read buffer will be reused, so keep a copy.
    if (offset < data.length) this.carry = Buffer.from(data.subarray(offset));
  }
}

/** A client-to-server frame: FIN, the opcode, a mask key and the masked payload. */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + 4 + length);
  frame[0] = 0x80 | opcode;
  if (header === 2) {
    frame[1] = 0x80 | length;
  } else if (header === 4) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  // The mask only keeps proxies from mistaking frames for HTTP; a cheap random key will do.
  const mask = (Math.random() * 0x1_0000_0000) >>> 0;
  frame.writeUInt32BE(mask, header);
  for (let i = 0; i < length; i += 1) {
    frame[header + 4 + i] = (payload[i] as number) ^ ((mask >>> (8 * (3 - (i & 3)))) & 0xff);
  }
  return frame;
}
