/**
 * The original Tornado server's notices, spelled out here rather than imported from
 * server/protocol.ts, so that a change to the server's constants cannot pass unnoticed.
 */
export const JOIN = 'Server: A new user has entered the chat room.';
export const LEAVE = 'Server: A user has left the chat room.';
