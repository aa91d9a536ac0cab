import type { Logger } from 'pino';
import { ServiceError, asError, errorMessage } from '../errors.js';
import type { OutgoingRecord, Producer, TopicPartitionOffset } from '../kafka/index.js';

interface Pending {
  records: readonly OutgoingRecord[];
  offsets: readonly TopicPartitionOffset[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Exactly-once delivery: the outputs of consumed batches and the consumer group's offsets past
 * them go to Kafka in one transaction, all or nothing. One producer has one transaction open at a
 * time, so batches that arrive while a transaction commits wait and go together in the next one
 * (the cost of a commit is shared by every partition in flight). A failed transaction is aborted
 * and its batches' `submit` rejects: they are scored again, and a read_committed reader never saw
 * what the aborted transaction wrote.
 */
export class TransactionBatcher {
  private queue: Pending[] = [];
  private running = false;

  constructor(
    private readonly producer: Producer,
    private readonly groupId: string,
    private readonly log: Logger,
  ) {}

  /** Resolves once `records` and `offsets` are committed in a transaction. */
  submit(records: readonly OutgoingRecord[], offsets: readonly TopicPartitionOffset[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, offsets, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const taken = this.queue;
        this.queue = [];
        try {
          await this.commit(taken);
          for (const p of taken) p.resolve();
        } catch (err) {
          for (const p of taken) p.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async commit(taken: readonly Pending[]): Promise<void> {
    const txn = await this.producer.transaction();
    try {
      await txn.send(taken.flatMap((p) => p.records));
      // The latest offset of each partition (a later batch of a partition supersedes an earlier one).
      const offsets = new Map<string, TopicPartitionOffset>();
      for (const p of taken) for (const o of p.offsets) offsets.set(`${o.topic}\u0000${o.partition}`, o);
      await txn.sendOffsets(this.groupId, [...offsets.values()]);
      await txn.commit();
    } catch (err) {
      await txn.abort().catch((e: unknown) => this.log.warn({ err: asError(e) }, 'aborting the transaction failed'));
      if (!(err instanceof ServiceError && !err.canRetry)) this.log.warn({ err: asError(err), batches: taken.length }, 'transaction aborted; its batches are scored again');
      throw err;
    }
  }
}
