import type { Notice } from '../../server/protocol.js';

/** Wall-clock time of an event, `HH:MM:SS` in the reader's time zone. */
export function clockTime(at: number): string {
  const date = new Date(at);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** `alice joined (3 online)`: what a join or leave means to a reader. */
export function noticeSummary(notice: Notice): string {
  return `${notice.name} ${notice.kind === 'join' ? 'joined' : 'left'} (${notice.online} online)`;
}

/** `alice is typing…`, `alice and bob are typing…`, `4 people are typing…`, or '' for nobody. */
export function typingSummary(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}
