import { randomBytes } from 'node:crypto';

export const MAX_NAME_LENGTH = 32;

// C0 and C1 control characters (Unicode category Cc): newlines, escapes and NULs
// have no place in a display name and would let a name forge extra lines in logs
// and terminals.
const CONTROL_CHARACTERS = /\p{Cc}/gu;

/** A name for someone who gave none: `guest-` and four hex digits. */
export function guestName(): string {
  return `guest-${randomBytes(2).toString('hex')}`;
}

/**
 * Turns whatever a client sent as its name into a display name: control characters
 * removed, trimmed, at most 32 characters (code points, so an emoji is never cut in
 * half). Anything that is not a non-empty string becomes a generated guest name.
 */
export function displayName(requested: unknown): string {
  if (typeof requested !== 'string') return guestName();
  const cleaned = requested.replace(CONTROL_CHARACTERS, '').trim();
  const name = Array.from(cleaned).slice(0, MAX_NAME_LENGTH).join('').trim();
  return name === '' ? guestName() : name;
}
