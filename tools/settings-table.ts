/**
 * Writes the table of settings (server/settings.ts) into README.md, between its
 * `settings:start` and `settings:end` markers: `npm run docs:settings`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { settingsTable } from '../server/settings';

export const README = join(__dirname, '..', 'README.md');
const START = '<!-- settings:start -->';
const END = '<!-- settings:end -->';

/** `readme` with its table of settings replaced by `table`. */
export function withSettingsTable(readme: string, table: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end < start) throw new Error(`README.md has no ${START} ... ${END} section`);
  return `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`;
}

if (require.main === module) writeFileSync(README, withSettingsTable(readFileSync(README, 'utf8'), settingsTable()));
