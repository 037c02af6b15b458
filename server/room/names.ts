import { randomBytes } from 'node:crypto';
import { wellFormed } from './chat-text';

export const MAX_NAME_LENGTH = 32;

// C0 and C1 control characters (Unicode category Cc): newlines, escapes and NULs
// have no place in a display name and would let a name forge extra lines in logs
// and terminals.
const CONTROL_CHARACTERS = /\p{Cc}/gu;

// Format characters (Unicode category Cf) are invisible: zero-width spaces and joiners
// (U+200B-U+200D, U+2060, U+FEFF), the soft hyphen (U+00AD), and the bidirectional
// controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069). Kept, they let
// `b\u200bob` pass for `bob`, or a right-to-left override turn the text after a name
// around in every client that shows it. Two of them are removed only where they do no
// harm to emoji (see keepsEmojiWhole).
const FORMAT_CHARACTERS = /\p{Cf}/gu;
const ZWJ = '\u200d';
// An emoji before a joiner: a pictograph, maybe with its presentation selector or skin tone.
const EMOJI_BEFORE = /\p{Extended_Pictographic}(?:\ufe0f|\p{Emoji_Modifier})?$/u;
const EMOJI_AFTER = /^\p{Extended_Pictographic}/u;
// Subdivision flags (England, Scotland, Wales) are a black flag and tag characters.
const TAG_SEQUENCE_BEFORE = /\u{1F3F4}[\u{E0020}-\u{E007E}]*$/u;

/**
 * Whether the format character at `offset` is part of an emoji: a zero-width joiner
 * between two pictographs (family emoji, rainbow flag), or a tag character of a flag.
 */
function keepsEmojiWhole(char: string, offset: number, text: string): boolean {
  if (char === ZWJ) return EMOJI_BEFORE.test(text.slice(0, offset)) && EMOJI_AFTER.test(text.slice(offset + 1));
  const code = char.codePointAt(0) ?? 0;
  return code >= 0xe0020 && code <= 0xe007f && TAG_SEQUENCE_BEFORE.test(text.slice(0, offset));
}

/** A name for someone who gave none: `guest-` and four hex digits. */
export function guestName(): string {
  return `guest-${randomBytes(2).toString('hex')}`;
}

/**
 * Turns whatever a client sent as its name into a display name: control characters and
 * invisible format characters removed (joiners inside emoji kept), trimmed, at most 32
 * characters (code points, so no character is cut in half). Anything that is not a
 * non-empty string becomes a generated guest name.
 */
export function displayName(requested: unknown): string {
  return typeof requested === 'string' ? (cleanName(requested) ?? guestName()) : guestName();
}

/**
 * The display name of a client whose token named it: the token's `name` claim cleaned
 * as displayName does, or its `sub` when that leaves nothing (or there is none).
 */
export function claimedName(name: string | null, sub: string): string {
  return (name === null ? null : cleanName(name)) ?? displayName(sub);
}

/** `text` cleaned for display (see displayName); null when nothing is left. */
function cleanName(text: string): string | null {
  const cleaned = wellFormed(text)
    .replace(CONTROL_CHARACTERS, '')
    .replace(FORMAT_CHARACTERS, (char: string, offset: number, text: string) => (keepsEmojiWhole(char, offset, text) ? char : ''))
    .trim();
  // Cutting may leave a joiner with nothing after it.
  const name = Array.from(cleaned).slice(0, MAX_NAME_LENGTH).join('').replace(/\u200d+$/u, '').trim();
  return name === '' ? null : name;
}
