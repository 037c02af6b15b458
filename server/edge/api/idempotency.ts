import { createHash } from 'node:crypto';

/** What a stored post answers: its id and server time. */
export interface Posted {
  id: string;
  at: number;
}

export const IDEMPOTENCY_TTL_MS = 10 * 60_000;
export const IDEMPOTENCY_MAX_KEYS = 10_000;
export const IDEMPOTENCY_KEY_MAX_LENGTH = 200;

/** Visible ASCII only: a key is an opaque token, and it ends up in memory as given. */
const KEY = /^[\x21-\x7e]+$/;

/** Whether an Idempotency-Key header value may be used as one. */
export function isIdempotencyKey(key: string): boolean {
  return key.length <= IDEMPOTENCY_KEY_MAX_LENGTH && KEY.test(key);
}

/**
 * What makes two posts the same request: the room and the message as posted. Kept as a
 * digest, so that a remembered key costs the same whatever the size of its text.
 */
export function postFingerprint(room: string, name: string, text: string): string {
  return createHash('sha256').update(JSON.stringify([room, name, text])).digest('base64');
}

/** A key sent again with another request: refused (422), never answered with another post's result. */
export const KEY_REUSED = 'reused';

interface Entry {
  answer: Promise<Posted>;
  fingerprint: string;
  expiresAt: number;
}

/**
 * The answers of posts made with an Idempotency-Key, so that a backend retrying after a
 * timeout posts once. The answer is kept as a promise from the moment the first post
 * starts: a duplicate that arrives while it is still being stored waits for it instead
 * of posting again. A post that fails is forgotten, so that a retry may succeed. The same
 * key with another request is a client's mistake, not a retry: it is told so, since
 * answering with the first post's result would lose the second message silently.
 *
 * In this process's memory, bounded (the oldest keys go first): a retry that reaches
 * another node, or comes after a restart, posts again.
 */
export class IdempotencyCache {
  // A Map iterates in insertion order, and every entry lives as long: oldest first.
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs = IDEMPOTENCY_TTL_MS,
    private readonly maxKeys = IDEMPOTENCY_MAX_KEYS,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The answer of the first post with `key`, if it is still remembered; KEY_REUSED when
   * that post was another request (`fingerprint`: postFingerprint of this one).
   */
  lookup(key: string, fingerprint: string): Promise<Posted> | typeof KEY_REUSED | undefined {
    this.dropExpired();
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    return entry.fingerprint === fingerprint ? entry.answer : KEY_REUSED;
  }

  /** The first post with `key` has started; `answer` settles when it is stored or refused. */
  remember(key: string, fingerprint: string, answer: Promise<Posted>): void {
    const entry: Entry = { answer, fingerprint, expiresAt: this.now() + this.ttlMs };
    this.entries.set(key, entry);
    while (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
    answer.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) return;
      this.entries.delete(key);
    }
  }
}
