import type { FetchedBatch } from '../kafka/index.js';

/**
 * How far each partition's outputs are acknowledged (durably written), whether or not that offset
 * reached the group yet. When the group is joined again and a commit was lost on the way (the
 * broker went away, the member was expired), the broker hands out records this member already
 * scored and published; `trim` drops them, so a partition kept across a rejoin is not scored
 * twice. Everything below the mark was published by this process, so dropping it loses nothing.
 */
export class AcknowledgedOffsets {
  private readonly marks = new Map<string, bigint>();

  /** Every record of the partition before `nextOffset` has its outputs acknowledged. */
  note(topic: string, partition: number, nextOffset: string): void {
    const key = `${topic}\u0000${partition}`;
    const next = BigInt(nextOffset);
    const mark = this.marks.get(key);
    if (mark === undefined || next > mark) this.marks.set(key, next);
  }

  /** The batch without the records already acknowledged (the batch itself in the usual case). */
  trim(batch: FetchedBatch): FetchedBatch {
    const first = batch.messages[0];
    if (first === undefined || this.marks.size === 0) return batch;
    const mark = this.marks.get(`${batch.topic}\u0000${batch.partition}`);
    if (mark === undefined || BigInt(first.offset) >= mark) return batch;
    return { ...batch, messages: batch.messages.filter((m) => BigInt(m.offset) >= mark) };
  }
}
