import type { ChatMessage } from '../protocol';
import type { MemberRef, WebhookEventType } from './event-outbox';

/**
 * What each event says (its `data`), written once for every store, and the rule of
 * member events that the memory and SQLite stores share (Redis keeps it in a script).
 */

/** An event before the outbox gives it its id. */
export interface NewEvent {
  type: WebhookEventType;
  room: string | null;
  at: number;
  /** JSON text. */
  data: string;
}

/** A message as `message.created` tells it: the message as clients got it. */
export function createdEvent(room: string, message: ChatMessage): NewEvent {
  return { type: 'message.created', room, at: message.at, data: JSON.stringify(message) };
}

/** What an edit tells of the message it changed besides its new text. */
export interface EditedMessage {
  id: string;
  name: string;
  at: number;
  user?: string | undefined;
}

/** An edit as `message.edited` tells it: the message as it is now. */
export function editedEvent(room: string, message: EditedMessage, text: string, version: number, editedAt: number): NewEvent {
  const data = message.user === undefined || message.user === null
    ? { id: message.id, name: message.name, text, at: message.at, version, editedAt }
    : { id: message.id, name: message.name, text, at: message.at, user: message.user, version, editedAt };
  return { type: 'message.edited', room, at: editedAt, data: JSON.stringify(data) };
}

/** A delete tells the id only: what the message said is gone. */
export function deletedEvent(room: string, id: string, at: number): NewEvent {
  return { type: 'message.deleted', room, at, data: JSON.stringify({ id }) };
}

/** Who a member event names: its name, and its `sub` with JWT. */
export function memberData(who: MemberRef): string {
  return JSON.stringify(who.user === undefined ? { name: who.name } : { name: who.name, user: who.user });
}

/**
 * The events a change of one member's connections makes, given the member's connections
 * in the room before (`member`) and the room's members before (`members`), across every
 * node: a first connection makes `member.joined` (after `room.occupied` when the room had
 * nobody), a last one `member.left` (then `room.vacated` when nobody is left).
 */
export function memberEvents(room: string, who: MemberRef, delta: 1 | -1, member: number, members: number, at: number): NewEvent[] {
  if (delta === 1 && member === 0) {
    const joined: NewEvent = { type: 'member.joined', room, at, data: memberData(who) };
    return members === 0 ? [{ type: 'room.occupied', room, at, data: '{}' }, joined] : [joined];
  }
  if (delta === -1 && member === 1) {
    const left: NewEvent = { type: 'member.left', room, at, data: memberData(who) };
    return members === 1 ? [left, { type: 'room.vacated', room, at, data: '{}' }] : [left];
  }
  return [];
}
