import {
  ActionError,
  ChatError,
  type ActionErrorCode,
  type ChatErrorCode,
  type ChatMessage,
  type RawErrorFrame,
  type RawHistoryFrame,
  type RawRequestAck,
  type RawUnreadFrame,
  type Refused,
} from '../../protocol';
import type { PostReply } from '../../session/member';
import type { RawClient } from './client';

/** What a request's `ref` may be: it comes back in the answer. */
type Ref = string | number | undefined;

const OPEN_BRACE = 0x7b;

/**
 * A raw JSON client's frame as a request (`{"type": ...}`), or null when it is chat text:
 * only a frame that is a JSON object with a string `type` is a request. The first byte
 * is looked at before anything is parsed, so chat text costs nothing more.
 */
export function requestOf(data: Buffer): Record<string, unknown> | null {
  if (data[0] !== OPEN_BRACE) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  return typeof (parsed as { type?: unknown }).type === 'string' ? (parsed as Record<string, unknown>) : null;
}

/** The request's `ref`, else its `id` (a message id), else none. */
function refOf(request: Record<string, unknown>): Ref {
  const { ref, id } = request;
  if (typeof ref === 'string' || typeof ref === 'number') return ref;
  return typeof id === 'string' ? id : undefined;
}

function send(client: RawClient, frame: RawErrorFrame | RawRequestAck | RawHistoryFrame | RawUnreadFrame): void {
  if (client.open) client.send(JSON.stringify(frame));
}

/** A refusal, always; a success only to a client that counts its acks (`?ack=1`). */
function answerer<A extends { ok: true } | Refused>(client: RawClient, ref: Ref, ack: (answer: Exclude<A, Refused>) => Omit<RawRequestAck, 'type' | 'ref'>) {
  return (answer: A): void => {
    if (!answer.ok) send(client, refusal(answer.error, ref, answer.reason));
    else if (client.acks) send(client, { type: 'ack', ...(ref === undefined ? {} : { ref }), ...ack(answer as Exclude<A, Refused>) });
  };
}

function refusal(error: ActionErrorCode, ref: Ref, reason?: string): RawErrorFrame {
  const frame: RawErrorFrame = reason === undefined ? { type: 'error', error } : { type: 'error', error, reason };
  if (ref !== undefined) frame.ref = ref;
  return frame;
}

/** A `{"type":"chat","text"}` request's reply: checked as a Socket.IO chat is, answered by `ref`. */
function chatReply(client: RawClient, ref: Ref): PostReply {
  return {
    accepted: (message: ChatMessage) => {
      client.member.posted(message.id);
      if (client.acks) send(client, { type: 'ack', ...(ref === undefined ? {} : { ref }), id: message.id });
    },
    refused: () => send(client, refusal(ActionError.Unavailable, ref)),
    rejected: (error: ChatErrorCode, reason?: string) => send(client, refusal(error === ChatError.InvalidType ? ActionError.Invalid : (error as ActionErrorCode), ref, reason)),
  };
}

/**
 * Hands a joined raw JSON client's request to its member (the session decides) and
 * writes the answer back on its socket, matched by `ref`. One line per request type.
 */
export function handleRequest(client: RawClient, request: Record<string, unknown>): void {
  const { member } = client;
  const ref = refOf(request);
  switch (request.type) {
    case 'chat':
      return member.post(request.text, chatReply(client, ref));
    case 'edit':
      return member.edit(request, answerer(client, ref, (a) => ({ version: a.version })));
    case 'delete':
      return member.remove(request, answerer(client, ref, () => ({})));
    case 'react':
      return member.react(request, answerer(client, ref, (a) => ({ count: a.count })));
    case 'read':
      return member.read(request, answerer(client, ref, () => ({})));
    case 'history':
      return member.history(request, (a) => (a.ok ? send(client, { type: 'history', messages: a.messages, more: a.more, ...(ref === undefined ? {} : { ref }) }) : send(client, refusal(a.error, ref))));
    case 'kick':
      return member.kick(request, answerer(client, ref, (a) => ({ connections: a.connections })));
    case 'ban':
    case 'mute':
      return member.ban(request.type, request, answerer(client, ref, (a) => ({ ban: a.ban })));
    case 'unread':
      return member.unread((a) => (a.ok ? send(client, { type: 'unread', rooms: a.rooms, ...(ref === undefined ? {} : { ref }) }) : send(client, refusal(a.error, ref))));
    default:
      return send(client, refusal(ActionError.Invalid, ref));
  }
}

/** A request that came before the client joined its room: it reached nobody. */
export function notJoined(client: RawClient, request: Record<string, unknown>): void {
  send(client, refusal(ActionError.NotJoined, refOf(request)));
}
