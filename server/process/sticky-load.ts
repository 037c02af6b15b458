import type { LoadReport } from '../transports/raw/transport';

/**
 * What a worker tells the primary's @socket.io/sticky about its raw clients.
 *
 * Sticky's least-connection balancing counts the clients each worker reports, and its
 * setupWorker reports Socket.IO sessions only: raw /socket clients would never count, and
 * every one of them would go to the same worker. So each raw client is reported with
 * sticky's own two messages. Why not round-robin instead: a long-polling client's second
 * request can reach the primary before the worker's report binding its session does;
 * sticky then balances it like a new connection, and least-connection (counts unchanged
 * until that same report) sends it back to the worker holding the session, where
 * round-robin would send it to the other one ("Session ID unknown").
 *
 * Order matters for the same reason: a raw client is reported before its 101 is written,
 * so a client that connects again at once is balanced on counts that include it. Counts
 * that change between a polling handshake and its next request would send that request
 * elsewhere; sticky's own session report has this race too, sent as it is just after the
 * handshake's answer, so it is rare only as long as the primary reads its IPC promptly.
 *
 * The id is one constant: sticky keeps it in its session map, where no request ever
 * looks it up (a session id there has 20 characters), and only the count matters.
 */
const RAW_CLIENT_ID = 'raw-client';


export const stickyLoadReport: LoadReport = {
  opened: () => process.send?.({ type: 'sticky:connection', data: RAW_CLIENT_ID }),
  closed: () => process.send?.({ type: 'sticky:disconnection', data: RAW_CLIENT_ID }),
};
