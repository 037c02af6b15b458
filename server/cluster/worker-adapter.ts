import type { Namespace } from 'socket.io';
import { ClusterAdapterWithHeartbeat, type ClusterAdapterOptions, type ClusterMessage, type ClusterResponse } from 'socket.io-adapter';

/** The tag of adapter messages that the primary's `setupPrimary` (@socket.io/cluster-adapter) forwards. */
const MESSAGE_SOURCE = '_sio_adapter';

/**
 * A room's namespace announces itself to the other workers this often. Only requests
 * that wait for every worker's answer (`fetchSockets`, acknowledged broadcasts) count on
 * it, and none is made in a room; the lobby `/`, which carries the room bus, keeps
 * socket.io's default.
 */
const ROOM_HEARTBEAT_MS = 60_000;

interface Tagged {
  source?: unknown;
  nsp?: unknown;
}

/** Each namespace's adapter in this worker, by namespace name. */
const adapters = new Map<string, WorkerClusterAdapter>();
let listening = false;

function dispatch(message: unknown): void {
  const tagged = message as Tagged | null;
  if (tagged?.source !== MESSAGE_SOURCE || typeof tagged.nsp !== 'string') return;
  adapters.get(tagged.nsp)?.onMessage(message as ClusterMessage);
}

const ignoreError = () => undefined;

/**
 * The node:cluster adapter of WORKERS > 1: the wire of @socket.io/cluster-adapter (the
 * primary's `setupPrimary` forwards it unchanged), with one IPC listener per worker that
 * hands each message to its namespace's adapter.
 *
 * Why not that package's adapter: each of its adapters adds a `process` 'message'
 * listener of its own and never removes it. A room is a namespace here, so every message
 * between workers ran every room's listener (work in proportion to the rooms, for every
 * message), and rooms that came and went left theirs behind.
 */
export class WorkerClusterAdapter extends ClusterAdapterWithHeartbeat {
  constructor(nsp: Namespace, opts: Partial<ClusterAdapterOptions> = {}) {
    super(nsp, opts as ClusterAdapterOptions);
    adapters.set(nsp.name, this);
    if (!listening) {
      process.on('message', dispatch);
      listening = true;
    }
    this.init();
  }

  override close(): void {
    super.close();
    if (adapters.get(this.nsp.name) === this) adapters.delete(this.nsp.name);
  }

  protected override doPublish(message: ClusterMessage): Promise<string> {
    process.send?.({ ...message, source: MESSAGE_SOURCE }, undefined, {}, ignoreError);
    // An offset for connection state recovery, which this adapter does not keep.
    return Promise.resolve('');
  }

  protected override doPublishResponse(requesterUid: string, response: ClusterResponse): Promise<void> {
    process.send?.({ ...response, source: MESSAGE_SOURCE, requesterUid }, undefined, {}, ignoreError);
    return Promise.resolve();
  }
}

/**
 * The adapter of every namespace of a worker: the lobby with socket.io's heartbeat, rooms
 * with ROOM_HEARTBEAT_MS. A plain function, not an arrow: socket.io calls it with `new`.
 */
export function createWorkerAdapter(): (nsp: Namespace) => WorkerClusterAdapter {
  return function workerAdapter(nsp: Namespace) {
    const heartbeat = nsp.name === '/' ? {} : { heartbeatInterval: ROOM_HEARTBEAT_MS, heartbeatTimeout: 2 * ROOM_HEARTBEAT_MS };
    return new WorkerClusterAdapter(nsp, heartbeat);
  };
}
