import { ModerationClose, type ChatMessage, type Notice, type RawFormat, type RawJsonFrame } from '../../protocol';
import type { RoomChange, RoomSink, Who } from '../../room/room-seams';
import { closeReason, plainIp } from '../../support/ip';
import type { SlowConsumerRule } from '../../session/slow-consumer';
import type { Metrics } from '../../support/metrics';
import { BroadcastGroup } from './broadcast-group';
import type { RawClient } from './client';

/**
 * The raw clients of one room: one broadcast group per format, each message framed once
 * per format for all of them.
 */
export class RawRoomSink implements RoomSink {
  readonly groups: Record<RawFormat, BroadcastGroup<RawClient>>;

  constructor(
    slowConsumers: SlowConsumerRule,
    onSlow: (client: RawClient) => void,
    private readonly metrics: Metrics,
    private readonly forget: () => void,
  ) {
    this.groups = { text: new BroadcastGroup(slowConsumers, onSlow), json: new BroadcastGroup(slowConsumers, onSlow) };
  }

  chat(message: ChatMessage): void {
    this.publish(message.text, () => ({ type: 'chat', ...message }));
  }

  notice(notice: Notice): void {
    this.publish(notice.text, () => ({ type: 'notice', ...notice }));
  }

  /** Only JSON clients hear of changes: the seed's protocol has no place for them. */
  change(change: RoomChange): void {
    if (this.groups.json.size === 0) return;
    const { kind, ...fields } = change;
    const frame = { type: kind, ...fields } as RawJsonFrame;
    this.metrics.delivered('raw', this.groups.json.publish(JSON.stringify(frame)));
  }

  /** A kick or a ban: the clients it picks are closed with 4001 (kicked) or 4003 (banned), `reason` as the close reason. */
  end(match: (who: Who) => boolean, reason: string, banned: boolean): number {
    let ended = 0;
    for (const group of [this.groups.text, this.groups.json]) {
      for (const client of group.each()) {
        const { member } = client;
        if (!client.open || !match({ user: member.user ?? member.name, ip: plainIp(member.session.ip) })) continue;
        client.close(banned ? ModerationClose.Banned : ModerationClose.Kicked, closeReason(reason));
        ended += 1;
      }
    }
    return ended;
  }

  /** Writes everything pending now (before clients are closed, so nothing is lost). */
  flush(): void {
    this.groups.text.flush();
    this.groups.json.flush();
  }

  dispose(): void {
    this.forget();
  }

  /**
   * Seed clients get the text as it is; JSON clients the frame, built and encoded only
   * if one listens (most rooms have none: this runs for every message).
   */
  private publish(text: string, frame: () => RawJsonFrame): void {
    let count = this.groups.text.publish(text);
    if (this.groups.json.size > 0) count += this.groups.json.publish(JSON.stringify(frame()));
    this.metrics.delivered('raw', count);
  }
}
