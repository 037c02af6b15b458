import { missingEngineInternals, missingWriteInternals } from './engine-io';
import { missingNodeInternals } from './node';
import { missingSocketIoInternals } from './socket-io';
import { missingFrameBuilder, missingIdleSocketInternals } from './ws';

/** What is missing of the internals of other libraries this server relies on. */
export interface InternalsReport {
  /** Internals it cannot run without: the server refuses to start, naming them. */
  required: string[];
  /** Internals of the Socket.IO fast path: it is turned off, with a warning, and every packet takes engine.io's path. */
  fastPath: string[];
  /** Internals of the primary of WORKERS > 1, which runs no chat: it refuses to start, naming them. */
  primary: string[];
}

const missing = (checks: (string | null)[]): string[] => checks.filter((name): name is string => name !== null);

/** The answer depends only on the installed versions: a process with several servers (tests) asks once. */
let report: InternalsReport | undefined;

/**
 * Every internal of another library this server relies on, looked for once at start.
 * The versions read are pinned exactly in package.json, and a test holds the report
 * empty for them: an upgrade that moves one is told at start, not found by misbehaving.
 */
export function checkInternals(): InternalsReport {
  report ??= {
    required: missing([missingFrameBuilder(), missingEngineInternals(), missingSocketIoInternals()]),
    fastPath: missing([missingWriteInternals(), missingIdleSocketInternals()]),
    primary: missing([missingNodeInternals()]),
  };
  return report;
}

/** The server cannot run with these libraries: it says which internals are missing. */
export class MissingInternalsError extends Error {
  constructor(readonly missing: readonly string[]) {
    super(`these library versions lack internals this server relies on: ${missing.join(', ')} (install the versions package.json pins)`);
    this.name = 'MissingInternalsError';
  }
}
