import { randomUUID } from 'node:crypto';
import type { KafkaClient, KafkaRecord } from '../kafka/index.js';

/**
 * Reads topics through a throwaway consumer group (reading never moves anyone else's offsets)
 * and hands each record to `onRecord` until it returns true, `signal` aborts or `timeoutMs` passes.
 */
export async function tail(
  kafka: KafkaClient,
  options: { topics: readonly string[]; fromBeginning: boolean; timeoutMs?: number; signal?: AbortSignal; groupPrefix: string },
  onRecord: (topic: string, partition: number, record: KafkaRecord) => Promise<boolean> | boolean,
): Promise<void> {
  const consumer = kafka.groupConsumer({
    groupId: `${options.groupPrefix}-${randomUUID()}`,
    topics: options.topics,
    fromBeginning: options.fromBeginning,
    sessionTimeoutMs: 30_000,
    maxBytesPerPartition: 1 << 20,
    partitionsConcurrently: 1,
    readCommitted: true,
  });
  let finish!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)));
  let ended = false;
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(finish, options.timeoutMs);
  options.signal?.addEventListener('abort', () => finish(), { once: true });
  await consumer.run({
    batch: async (batch) => {
      for (const m of batch.messages) {
        if (ended) return;
        if (await onRecord(batch.topic, batch.partition, m)) {
          ended = true;
          finish();
        }
      }
    },
    assigned: () => undefined,
    revoked: async () => undefined,
    failed: (err) => fail(err),
  });
  try {
    await done;
  } finally {
    ended = true;
    clearTimeout(timer);
    await consumer.stop();
  }
}
