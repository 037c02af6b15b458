import { decode, encode } from '@msgpack/msgpack';
import type { ClusterMessage } from 'socket.io-adapter';

/**
 * A message as stored and published: JSON, in one pass; a message with binary data
 * carries it as base64 msgpack (`binary`) instead of `data`.
 */
type EncodedMessage = { uid: string; nsp: string; type: number; data?: unknown; binary?: string };

export function encodeMessage(message: ClusterMessage): string {
  const data = (message as { data?: unknown }).data;
  if (data === undefined || !hasBinary(data)) return JSON.stringify(message);
  const encoded: EncodedMessage = { uid: message.uid, nsp: message.nsp, type: message.type, binary: Buffer.from(encode(data)).toString('base64') };
  return JSON.stringify(encoded);
}

export function decodeMessage(json: string): ClusterMessage {
  const message = JSON.parse(json) as EncodedMessage;
  if (message.binary !== undefined) {
    message.data = decode(Buffer.from(message.binary, 'base64'));
    delete message.binary;
  }
  return message as ClusterMessage;
}

function hasBinary(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (hasBinary(item)) return true;
    return false;
  }
  for (const key in value) if (hasBinary((value as Record<string, unknown>)[key])) return true;
  return false;
}
