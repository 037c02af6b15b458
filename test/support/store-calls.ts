import type { ChatMessage } from '../../server/protocol';
import type { ChangeCallback, MessageChange, MessageStore } from '../../server/store/message-store';

/** What a change comes to: its result, a refusal, or the store being unavailable. */
export type ChangeOutcome = Parameters<ChangeCallback>[0];

/** A store's callbacks as promises, for tests that call a store directly. */
export const append = (store: MessageStore, room: string, text: string, user?: string, name = 'ann') =>
  new Promise<ChatMessage>((resolve, reject) =>
    store.append(room, name, text, (err, message) => (err !== null || message === null ? reject(err) : resolve(message)), user),
  );

export const appendAll = (store: MessageStore, room: string, texts: string[], user?: string) =>
  Promise.all(texts.map((text) => append(store, room, text, user)));

export const change = (store: MessageStore, room: string, what: MessageChange) => new Promise<ChangeOutcome>((resolve) => store.change(room, what, resolve));
