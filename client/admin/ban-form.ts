import { isRoomName, type BanKind } from '../../server/protocol.js';
import type { NewBan } from './api.js';

/**
 * A duration select's value (milliseconds, or empty for good) as a ban's `until`: epoch ms
 * by the server's clock (`now`), which is the clock that ends it.
 */
export function untilFrom(duration: string, now: number): number | null {
  const ms = Number(duration);
  return duration === '' || !Number.isFinite(ms) || ms <= 0 ? null : now + ms;
}

export interface BanFormFields {
  kind: HTMLSelectElement;
  /** `user` or `ip`: what the target is. */
  by: HTMLSelectElement;
  target: HTMLInputElement;
  /** Empty: every room. */
  room: HTMLInputElement;
  duration: HTMLSelectElement;
  reason: HTMLInputElement;
}

/**
 * The ban the form asks for, or why it cannot be sent (a missing target, a malformed
 * room). Whether an address is well-formed, and everything else, is the server's to say.
 */
export function readBanForm(fields: BanFormFields, now: number): NewBan | string {
  const target = fields.target.value.trim();
  const byAddress = fields.by.value === 'ip';
  if (target === '') return byAddress ? 'Type the address to ban, e.g. 203.0.113.9.' : 'Type the user to ban (the token’s sub, or the name without JWT).';
  const room = fields.room.value.trim();
  if (room !== '' && !isRoomName(room)) return `“${room}” is not a room name; leave it empty for every room.`;
  const reason = fields.reason.value.trim();
  return {
    kind: fields.kind.value === 'mute' ? 'mute' : ('ban' satisfies BanKind),
    ...(byAddress ? { ip: target } : { user: target }),
    room: room === '' ? null : room,
    until: untilFrom(fields.duration.value, now),
    ...(reason === '' ? {} : { reason }),
  };
}
