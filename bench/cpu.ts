import { readFileSync } from 'node:fs';

/** /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 per second. */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) a process has used so far, read from /proc without asking
 * the process (a busy server would answer late), or null where there is no /proc.
 */
export function cpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces; the fields after it are plain numbers.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, so 11 and 12 after field 2.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}
