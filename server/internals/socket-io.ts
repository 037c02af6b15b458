/**
 * What this server reads of socket.io beyond its public API, in one place, each checked
 * at start (internals/check.ts). Pinned: socket.io 4.8.4 (package.json).
 */
import { Server, type Namespace } from 'socket.io';

/** The namespace `name` if it exists: socket.io's own table (`_nsps`), since `io.of` would create it. */
export function existingNamespace<N extends Namespace>(io: Server, name: string): N | undefined {
  return (io as unknown as { _nsps: Map<string, N> })._nsps.get(name);
}

/**
 * Removes an empty child namespace of `parent` (a dynamic namespace) from socket.io's
 * tables, as `cleanupEmptyChildNamespaces` does once its last socket leaves: for a
 * namespace made (to reach other nodes) that nobody on this node ever joined.
 */
export function dropChildNamespace(io: Server, parent: Namespace, namespace: Namespace): void {
  namespace.adapter.close();
  (io as unknown as { _nsps: Map<string, Namespace> })._nsps.delete(namespace.name);
  (parent as unknown as { children: Set<Namespace> }).children.delete(namespace);
}

/** What of the above this socket.io lacks, or null. */
export function missingSocketIoInternals(): string | null {
  // Never attached to a server: nothing to close.
  const io = new Server();
  if (!((io as unknown as { _nsps?: unknown })._nsps instanceof Map)) return 'socket.io Server._nsps';
  const parent = io.of(/^\/probe$/);
  if (!((parent as unknown as { children?: unknown }).children instanceof Set)) return 'socket.io ParentNamespace.children';
  return null;
}
