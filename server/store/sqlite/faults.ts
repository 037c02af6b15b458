/** What can go wrong with DATA_DIR and its database, said in words an operator can act on. */
import { accessSync, constants, mkdirSync } from 'node:fs';

/** DATA_DIR cannot be used at start: the message names the path and the reason. */
export class DataDirError extends Error {
  constructor(dir: string, reason: string) {
    super(`DATA_DIR ${JSON.stringify(dir)} cannot be used: ${reason}`);
    this.name = 'DataDirError';
  }
}

/** What went wrong, in words an operator can act on. */
export function reasonOf(err: unknown): string {
  const error = err as { code?: string; message?: string };
  const code = error.code ?? '';
  if (code === 'SQLITE_FULL' || /ENOSPC|disk is full/i.test(error.message ?? '')) return 'disk full';
  if (code.startsWith('SQLITE_READONLY') || /EROFS|readonly|read-only/i.test(error.message ?? '')) return 'read-only';
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return `corrupt database (${error.message ?? code})`;
  // "disk I/O error" alone does not say which: SQLite's extended code does (SQLITE_IOERR_WRITE...).
  if (code.startsWith('SQLITE_IOERR')) return `${error.message ?? 'disk I/O error'} (${code})`;
  return error.message ?? String(err);
}

/**
 * Why the database under `dir` could not be opened. SQLite says only "unable to open
 * database file" (SQLITE_CANTOPEN) when the directory is read-only or not writable (it
 * cannot create the file, its -wal or its -shm); the directory itself tells which.
 */
export function openFailureOf(dir: string, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  if (code.startsWith('SQLITE_CANTOPEN')) {
    try {
      accessSync(dir, constants.W_OK);
    } catch (dirErr) {
      const dirCode = (dirErr as NodeJS.ErrnoException).code;
      if (dirCode === 'EROFS') return 'read-only file system';
      if (dirCode === 'EACCES' || dirCode === 'EPERM') return 'permission denied (the directory is not writable)';
      if (dirCode === 'ENOENT') return 'directory removed';
    }
  }
  return reasonOf(err);
}


/** Makes DATA_DIR if need be; throws DataDirError when it cannot be (a file is in the way, no permission). */
export function makeDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EEXIST: the path is a file; ENOTDIR: one of its parents is.
    const reason = code === 'EEXIST' || code === 'ENOTDIR' ? `not a directory (${(err as Error).message})` : (err as Error).message;
    throw new DataDirError(dir, reason);
  }
}
