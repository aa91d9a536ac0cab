import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { KAFKA_CODES, KafkaError, type OutgoingRecord, type Producer, type TopicPartitionOffset, type Transaction } from '../../src/kafka/index.js';
import { TransactionBatcher } from '../../src/producer/transactions.js';

/** A producer whose transactions record what they did; `failNext` makes the next commit fail. */
function fakeProducer() {
  const log: { records: string[]; offsets: TopicPartitionOffset[]; outcome: 'commit' | 'abort' }[] = [];
  let open = false;
  const state = { failNext: undefined as Error | undefined, gate: undefined as Promise<void> | undefined };
  const producer: Producer = {
    send: () => Promise.reject(new Error('not transactional')),
    close: async () => undefined,
    async transaction(): Promise<Transaction> {
      if (open) throw new Error('a transaction is open already');
      open = true;
      const entry = { records: [] as string[], offsets: [] as TopicPartitionOffset[], outcome: 'abort' as 'commit' | 'abort' };
      return {
        send: async (records: readonly OutgoingRecord[]) => {
          entry.records.push(...records.map((r) => String(r.value)));
        },
        sendOffsets: async (_group, offsets) => {
          entry.offsets.push(...offsets);
        },
        commit: async () => {
          if (state.gate !== undefined) await state.gate;
          open = false;
          const fail = state.failNext;
          state.failNext = undefined;
          if (fail !== undefined) throw fail;
          entry.outcome = 'commit';
          log.push(entry);
        },
        abort: async () => {
          open = false;
          log.push(entry);
        },
      };
    },
  };
  return { producer, log, state };
}

const rec = (v: string): OutgoingRecord => ({ topic: 'out', key: null, value: v });
const off = (partition: number, offset: number): TopicPartitionOffset => ({ topic: 'in', partition, offset: String(offset) });

describe('TransactionBatcher', () => {
  it('commits outputs and offsets together, and puts batches that wait meanwhile into the next transaction with the latest offset of each partition', async () => {
    const { producer, log, state } = fakeProducer();
    const b = new TransactionBatcher(producer, 'g', pino({ level: 'silent' }));
    let open!: () => void;
    state.gate = new Promise((r) => (open = r));
    const first = b.submit([rec('a')], [off(0, 10)]);
    const second = b.submit([rec('b')], [off(0, 20)]);
    const third = b.submit([rec('c')], [off(1, 5)]);
    state.gate = undefined;
    open();
    await Promise.all([first, second, third]);
    expect(log).toEqual([
      { records: ['a'], offsets: [off(0, 10)], outcome: 'commit' },
      { records: ['b', 'c'], offsets: [off(0, 20), off(1, 5)], outcome: 'commit' },
    ]);
  });

  it('aborts a transaction that fails and rejects its batches, then goes on', async () => {
    const { producer, log, state } = fakeProducer();
    const b = new TransactionBatcher(producer, 'g', pino({ level: 'silent' }));
    state.failNext = new KafkaError(KAFKA_CODES.unavailable, 'broker away');
    await expect(b.submit([rec('a')], [off(0, 1)])).rejects.toThrow('broker away');
    await b.submit([rec('a')], [off(0, 1)]);
    expect(log.map((e) => e.outcome)).toEqual(['abort', 'commit']);
  });
});
