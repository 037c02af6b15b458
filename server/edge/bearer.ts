import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Whether an Authorization header carries `Bearer <token>`. Both sides are hashed first,
 * so the comparison takes the same time whatever the length or the first wrong byte.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer +(.+)$/i.exec(header ?? '');
  const given = match?.[1] ?? '';
  // Compared even when the header is missing or malformed: no early way out to time.
  return timingSafeEqual(digest(given), digest(token)) && match !== null;
}
