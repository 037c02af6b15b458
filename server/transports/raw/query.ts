import { isMessageId } from '../../store/message-id';
import { UpgradeRefusal, type RawFormat } from '../../protocol';

/** What a raw client asks for in its upgrade's query string. */
export interface RawQuery {
  format: RawFormat;
  /** `?since=<id>` (JSON only): resume after this message. */
  since: string | undefined;
  /** `?ack=1` (JSON only): answer each of its frames with a RawAckFrame, to it alone. */
  acks: boolean;
  /** `?token=`: CHAT_TOKEN, or the JWT. */
  token: string | undefined;
  /** `?name=`: the name it asks for (ignored with JWT). */
  name: string | undefined;
}

/** The query of a raw upgrade, or the text of its 400 refusal. */
export function parseRawQuery(params: URLSearchParams): RawQuery | { refusal: string } {
  const format = params.get('format') ?? 'text';
  if (format !== 'text' && format !== 'json') return { refusal: UpgradeRefusal.Format };
  const since = params.get('since') ?? undefined;
  if (since !== undefined && (format !== 'json' || !isMessageId(since))) return { refusal: UpgradeRefusal.Since };
  const ack = params.get('ack');
  if (ack !== null && (format !== 'json' || ack !== '1')) return { refusal: UpgradeRefusal.Ack };
  return { format, since, acks: ack !== null, token: params.get('token') ?? undefined, name: params.get('name') ?? undefined };
}
