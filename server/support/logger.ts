import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config';

/** JSON lines on stdout, or into `destination` (tests read the lines back). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, base: { pid: process.pid } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
