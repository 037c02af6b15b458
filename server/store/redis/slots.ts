/**
 * Redis Cluster slots: which of the 16384 a hash tag falls in, and for each slot a tag
 * that falls in it, so that a key shared by every room of a slot (the ids stream) can be
 * named in that slot.
 */
import calculateSlot from 'cluster-key-slot';

export const SLOTS = 16_384;

/** The slot of keys whose hash tag is `tag` (`{tag}`). */
export function slotOf(tag: string): number {
  return calculateSlot(tag);
}

let tags: string[] | null = null;

/** The shortest decimal number whose slot is `slot`, as a hash tag. Built once, on first use: about 110,000 CRC16s. */
export function slotTag(slot: number): string {
  if (tags === null) {
    const found: string[] = new Array<string>(SLOTS);
    let missing = SLOTS;
    for (let n = 0; missing > 0; n += 1) {
      const tag = String(n);
      const of = calculateSlot(tag);
      if (found[of] === undefined) {
        found[of] = tag;
        missing -= 1;
      }
    }
    tags = found;
  }
  return tags[slot] as string;
}
