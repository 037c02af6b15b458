/** A message id as the server makes them: `<epoch ms>-<sequence>` (server/store/message-id.ts). */
const MESSAGE_ID = /^(\d{1,16})-(\d{1,16})$/;

/**
 * Where a raw JSON connection resumes after a drop (`?since=`): the newest message id it
 * has handed on. Ids order by time, then sequence, within a room; a link is in one room.
 * Only ids that move it forward count, so an older page of history never moves it back.
 */
export class ResumePoint {
  private newestId: string | undefined;
  private newestParts: [ms: number, seq: number] = [-1, -1];

  /** The id to resume after; undefined before any message was handed on. */
  get since(): string | undefined {
    return this.newestId;
  }

  /** A message with this id was handed on. Anything not shaped like an id is ignored. */
  handedOn(id: unknown): void {
    if (typeof id !== 'string') return;
    const match = MESSAGE_ID.exec(id);
    if (match === null) return;
    const ms = Number(match[1]);
    const seq = Number(match[2]);
    const [newestMs, newestSeq] = this.newestParts;
    if (ms < newestMs || (ms === newestMs && seq <= newestSeq)) return;
    this.newestId = id;
    this.newestParts = [ms, seq];
  }
}
