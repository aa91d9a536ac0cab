import type { PredictionRecord } from '../codec/types.js';
import { HEADERS, type OutputMessage, type Sink } from '../pipeline/types.js';
import { PairBuffer, type CompareCounts } from './compare.js';

/** Pipeline topic names in compare mode: nothing is written, the sink takes the outputs apart. */
export const COMPARE_TOPICS = { a: 'replay.compare.a', b: 'replay.compare.b', deadLetters: 'replay.compare.dlq' } as const;

/**
 * The sink of compare mode. The pipeline scores each batch with version A as primary and version
 * B as its shadow, so every record gives an A prediction followed by the B prediction of the same
 * record, or a dead letter, or (bad input for B only) an A prediction alone. This sink pairs them
 * up with the record's true label and keeps them until `take`.
 */
export class CompareSink implements Sink {
  readonly pairs = new PairBuffer();
  private counts: CompareCounts = { records: 0, deadLetters: 0, onlyA: 0 };

  constructor(private readonly truthOf: (partition: string, offset: string) => string | null) {}

  send(messages: readonly OutputMessage[]): Promise<void> {
    let pendingA: { rec: PredictionRecord; partition: string; offset: string } | undefined;
    const flushA = (): void => {
      if (pendingA !== undefined) this.counts.onlyA++;
      pendingA = undefined;
    };
    for (const m of messages) {
      const partition = String(m.headers[HEADERS.sourcePartition]);
      const offset = String(m.headers[HEADERS.sourceOffset]);
      if (m.topic === COMPARE_TOPICS.b) {
        if (pendingA !== undefined && pendingA.partition === partition && pendingA.offset === offset) {
          this.pairs.add(pendingA.rec, parse(m.value), this.truthOf(partition, offset));
          pendingA = undefined;
        }
        continue;
      }
      flushA();
      this.counts.records++;
      if (m.topic === COMPARE_TOPICS.a) pendingA = { rec: parse(m.value), partition, offset };
      else this.counts.deadLetters++;
    }
    flushA();
    return Promise.resolve();
  }

  /** Counts since the last call. */
  takeCounts(): CompareCounts {
    const c = this.counts;
    this.counts = { records: 0, deadLetters: 0, onlyA: 0 };
    return c;
  }
}

function parse(v: Buffer | string): PredictionRecord {
  return JSON.parse(typeof v === 'string' ? v : v.toString('utf8')) as PredictionRecord;
}
