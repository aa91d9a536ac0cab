import { describe, expect, it } from 'vitest';
import { AcknowledgedOffsets } from '../../src/consumer/acknowledged.js';
import type { FetchedBatch } from '../../src/kafka/index.js';

const batch = (partition: number, from: number, to: number): FetchedBatch => ({
  topic: 't',
  partition,
  nextOffset: String(to + 1),
  messages: Array.from({ length: to - from + 1 }, (_, i) => ({ key: null, value: null, offset: String(from + i), timestamp: '0' })),
});

describe('AcknowledgedOffsets', () => {
  it('hands a batch through untouched when nothing of it was acknowledged', () => {
    const acked = new AcknowledgedOffsets();
    const b = batch(0, 10, 19);
    expect(acked.trim(b)).toBe(b);
    acked.note('t', 0, '10');
    expect(acked.trim(b)).toBe(b);
  });

  it('drops the records a rejoin hands out again below the acknowledged mark, keeping the position', () => {
    const acked = new AcknowledgedOffsets();
    acked.note('t', 0, '15');
    const trimmed = acked.trim(batch(0, 10, 19));
    expect(trimmed.messages.map((m) => m.offset)).toEqual(['15', '16', '17', '18', '19']);
    expect(trimmed.nextOffset).toBe('20');
    expect(acked.trim(batch(0, 3, 9)).messages).toEqual([]);
  });

  it('keeps one mark per partition, never moving it back', () => {
    const acked = new AcknowledgedOffsets();
    acked.note('t', 1, '30');
    acked.note('t', 1, '20');
    expect(acked.trim(batch(1, 25, 34)).messages[0]?.offset).toBe('30');
    expect(acked.trim(batch(0, 25, 34)).messages).toHaveLength(10);
  });
});
