import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { ChatError } from '../protocol';
import { chatTextError, wellFormed } from '../room/chat-text';
import type { Metrics, PublishHookFailure } from '../support/metrics';
import { ThrottledWarning } from '../support/throttled-warning';
import { HookClient, PostError } from './http-post';
import { PublishGate } from './publish-gate';
import { Signer } from './signing';

/** Connections kept open to the hook: requests past them wait for one (within their deadline). */
const MAX_SOCKETS = 64;
/** Messages of one room waiting for their verdicts; past it a message is refused at once. */
export const MAX_WAITING_PER_ROOM = 1000;
/** The longest `reason` a hook may give (characters): the sender is shown it. */
export const MAX_REASON_LENGTH = 200;
/** At most one log line per this long about the hook's failures (the rest are counted in it). */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** Why the sender of a message is refused when the hook failed to answer (PUBLISH_HOOK_ON_ERROR=reject). */
export const HOOK_UNAVAILABLE = 'publish hook unavailable';
/** Why the sender of a message is refused when its room has MAX_WAITING_PER_ROOM messages waiting. */
export const HOOK_BUSY = 'publish hook busy';

/** What the hook is asked about one message: its room, its sender (`user`: the JWT `sub`), its text; `edit`: the id of the message an edit changes. */
export interface PublishQuestion {
  room: string;
  user?: string | undefined;
  name: string;
  text: string;
  edit?: string | undefined;
}

/**
 * What becomes of a message: posted as it is, posted with the hook's text, or refused
 * (`rejected`: the hook said no, with its reason; `unavailable`: the hook failed to
 * answer, or too many messages of the room wait, and PUBLISH_HOOK_ON_ERROR is reject).
 */
export type PublishVerdict =
  | { action: 'allow' }
  | { action: 'replace'; text: string }
  | { action: 'refuse'; error: typeof ChatError.Rejected | typeof ChatError.Unavailable; reason: string };

const ALLOW: PublishVerdict = { action: 'allow' };
const UNAVAILABLE: PublishVerdict = { action: 'refuse', error: ChatError.Unavailable, reason: HOOK_UNAVAILABLE };
const BUSY: PublishVerdict = { action: 'refuse', error: ChatError.Unavailable, reason: HOOK_BUSY };

/** An answer that is no verdict, with what was wrong with it. */
class InvalidAnswer extends Error {}

/** The verdict in a hook's answer, or InvalidAnswer: a replacement must be a chat text as a client's is. */
export function verdictOf(body: Buffer, maxMessageBytes: number): PublishVerdict {
  let answer: unknown;
  try {
    answer = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidAnswer(`not JSON: ${JSON.stringify(body.subarray(0, 80).toString('utf8'))}`);
  }
  if (typeof answer !== 'object' || answer === null) throw new InvalidAnswer('not a JSON object');
  const { action, reason, text } = answer as { action?: unknown; reason?: unknown; text?: unknown };
  switch (action) {
    case 'allow':
      return ALLOW;
    case 'reject':
      if (typeof reason !== 'string' || reason.trim() === '') throw new InvalidAnswer('a reject without a reason');
      if (reason.length > MAX_REASON_LENGTH) throw new InvalidAnswer(`a reason past ${MAX_REASON_LENGTH} characters`);
      // Shown as it is to the sender, a terminal's included: no control characters.
      return { action: 'refuse', error: ChatError.Rejected, reason: wellFormed(reason).replace(/\p{Cc}/gu, ' ') };
    case 'replace': {
      const error = chatTextError(text, maxMessageBytes);
      if (error !== null) throw new InvalidAnswer(`a replacement that is no chat text (${error})`);
      return { action: 'replace', text: wellFormed(text as string) };
    }
    default:
      throw new InvalidAnswer(`unknown action ${JSON.stringify(action)?.slice(0, 40)}`);
  }
}

export interface PublishHookOptions {
  url: string;
  /** WEBHOOK_SECRET. */
  secret: string;
  timeoutMs: number;
  onError: 'reject' | 'allow';
  maxMessageBytes: number;
  metrics: Metrics;
  logger: Logger;
}

/**
 * PUBLISH_HOOK_URL: the backend's say on each client message and edit before it is
 * stored. One signed POST per message (`{ room, user?, name, text, edit? }`, Standard
 * Webhooks headers, a fresh `webhook-id` each) answered `{"action":"allow"}`,
 * `{"action":"reject","reason"}` or `{"action":"replace","text"}` within
 * PUBLISH_HOOK_TIMEOUT_MS. Anything else (not 2xx, no answer in time, unreachable, TLS,
 * a redirect, not JSON, an unknown action, a reason missing or too long, a replacement
 * that is no chat text) is a failure: counted, logged (at most one line per 10 s) and
 * decided by PUBLISH_HOOK_ON_ERROR. Verdicts are applied in each room's order (PublishGate).
 */
export class PublishHook {
  private readonly client: HookClient;
  private readonly signer: Signer;
  private readonly gate: PublishGate<PublishVerdict>;
  /** Where requests go, for the log: no credentials, no query. */
  private readonly shownUrl: string;
  private readonly failureLog = new ThrottledWarning(FAILURE_LOG_INTERVAL_MS);
  /** Messages asked about whose verdicts are not applied yet. */
  private undecided = 0;
  /** Shutdown waits for the last verdict to be applied (see close). */
  private allDecided: (() => void) | null = null;

  constructor(private readonly options: PublishHookOptions) {
    const url = new URL(options.url);
    this.client = new HookClient(url, MAX_SOCKETS);
    this.signer = new Signer(options.secret);
    this.shownUrl = `${url.origin}${url.pathname}`;
    this.gate = new PublishGate(MAX_WAITING_PER_ROOM, (err) => options.logger.error({ err }, 'applying a publish hook verdict failed'));
  }

  /** The hook PUBLISH_HOOK_URL names, or null without one (then nothing asks). */
  static fromConfig(config: Config, metrics: Metrics, logger: Logger): PublishHook | null {
    if (config.publishHookUrl === null) return null;
    // config.ts refuses PUBLISH_HOOK_URL without WEBHOOK_SECRET.
    if (config.webhookSecret === null) throw new Error('PUBLISH_HOOK_URL needs WEBHOOK_SECRET');
    return new PublishHook({
      url: config.publishHookUrl,
      secret: config.webhookSecret,
      timeoutMs: config.publishHookTimeoutMs,
      onError: config.publishHookOnError,
      maxMessageBytes: config.maxMessageBytes,
      metrics,
      logger,
    });
  }

  /**
   * Asks about one message and calls `then` with its verdict, once, after the verdicts of
   * every message of its room asked about before it: at once (refused) when
   * MAX_WAITING_PER_ROOM of them wait already.
   */
  check(question: PublishQuestion, then: (verdict: PublishVerdict) => void): void {
    const apply = (verdict: PublishVerdict) => {
      try {
        then(verdict);
      } finally {
        this.undecided -= 1;
        if (this.undecided === 0) this.allDecided?.();
      }
    };
    if (this.gate.pass(question.room, () => this.ask(question), apply)) {
      this.undecided += 1;
      return;
    }
    this.options.metrics.publishHookFailed('queue_full');
    this.logFailure('queue_full', `${MAX_WAITING_PER_ROOM} messages wait for the hook`, question.room, 'reject');
    then(BUSY);
  }

  /** The hook's verdict on one message; never rejects (a failure is PUBLISH_HOOK_ON_ERROR's verdict). */
  async ask(question: PublishQuestion): Promise<PublishVerdict> {
    const { timeoutMs, maxMessageBytes, metrics } = this.options;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const body = JSON.stringify(question);
      const answer = await this.client.post(body, {
        headers: { ...this.signer.sign(`hook_${randomUUID()}`, body) },
        timeoutMs,
        // A replacement of MAX_MESSAGE_BYTES, every character escaped (\uXXXX), and the rest.
        maxBodyBytes: maxMessageBytes * 6 + 1024,
      });
      if (answer.status < 200 || answer.status > 299) return this.failed('status', `answered ${answer.status}`, question, seconds());
      const verdict = verdictOf(answer.body, maxMessageBytes);
      metrics.publishHookAnswered(verdict.action === 'refuse' ? 'reject' : verdict.action, seconds());
      return verdict;
    } catch (err) {
      if (err instanceof PostError) return this.failed(err.reason, err.message, question, seconds());
      if (err instanceof InvalidAnswer) return this.failed('invalid', err.message, question, seconds());
      return this.failed('error', (err as Error).message, question, seconds());
    }
  }

  /** Messages of `room` waiting for their verdicts now. */
  waiting(room: string): number {
    return this.gate.waiting(room);
  }

  /**
   * Shutdown, once the clients are gone: the connections to the hook are closed, so the
   * requests under way fail and PUBLISH_HOOK_ON_ERROR decides their messages; resolves
   * once every verdict is applied (each request ends by its deadline), so that what is
   * allowed reaches the store before it closes.
   */
  close(): Promise<void> {
    this.client.close();
    if (this.undecided === 0) return Promise.resolve();
    return new Promise((resolve) => (this.allDecided = resolve));
  }

  private failed(reason: PublishHookFailure, detail: string, question: PublishQuestion, seconds: number): PublishVerdict {
    const { metrics, onError } = this.options;
    metrics.publishHookFailed(reason);
    metrics.publishHookAnswered('error', seconds);
    this.logFailure(reason, detail, question.room, onError);
    return onError === 'allow' ? ALLOW : UNAVAILABLE;
  }

  /** One line now, or counted in the next: a dead hook must not flood the log with a line per message. */
  private logFailure(reason: PublishHookFailure, detail: string, room: string, outcome: 'reject' | 'allow'): void {
    const failures = this.failureLog.occurred();
    if (failures === 0) return;
    const fields = { hook: this.shownUrl, reason, detail, room, failures };
    this.options.logger.warn(fields, outcome === 'allow' ? 'publish hook failed; message allowed (PUBLISH_HOOK_ON_ERROR=allow)' : 'publish hook failed; message refused');
  }
}
