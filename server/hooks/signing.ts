import { Webhook } from 'standardwebhooks';

/** The headers that sign one request, as Standard Webhooks 1.0 names them. */
export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Signs requests as Standard Webhooks 1.0 (`standardwebhooks`, the project's own
 * library): the HMAC-SHA256 of `<id>.<timestamp>.<body>` under WEBHOOK_SECRET, so that a
 * receiver verifies it with any of that project's libraries. Once per request: per batch
 * of webhook events, and per message for the publish hook, where its pure-JS HMAC is a
 * few percent of the request's cost (BENCHMARKS.md).
 */
export class Signer {
  private readonly webhook: Webhook;

  constructor(secret: string) {
    this.webhook = new Webhook(secret);
  }

  /** The headers of the request `id` carrying `body`, signed now. */
  sign(id: string, body: string, now = new Date()): SignedHeaders {
    return {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': this.webhook.sign(id, now, body),
    };
  }
}
