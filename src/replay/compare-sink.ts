import type { BatchOutcomes, Sink } from '../pipeline/types.js';
import { valueAt } from '../scoring/feature-paths.js';
import { PairBuffer, labelText, type CompareCounts } from './compare.js';

/**
 * The sink of compare mode: nothing is written. The pipeline scores each batch with version A as
 * primary and version B as its shadow, so every record's outcome is an A prediction with the B
 * prediction of the same record, or a dead letter, or (bad input for B only) an A prediction
 * alone. The pairs, with the record's true label from `labelField` of its event, are kept until
 * `take`.
 */
export class CompareSink implements Sink {
  readonly pairs = new PairBuffer();
  private counts: CompareCounts = { records: 0, deadLetters: 0, onlyA: 0 };

  constructor(private readonly truth: { labelField: string | undefined; featuresField: string | undefined }) {}

  send(batch: BatchOutcomes): Promise<void> {
    for (const o of batch.outcomes) {
      this.counts.records++;
      if (o.kind === 'dead-letter') this.counts.deadLetters++;
      else if (o.shadow === undefined) this.counts.onlyA++;
      else this.pairs.add(o.prediction, o.shadow, this.truthOf(o.event));
    }
    return Promise.resolve();
  }

  /** The record's true label: `labelField` of the event, or of its features field. */
  private truthOf(event: unknown): string | null {
    const field = this.truth.labelField;
    if (field === undefined || event === null || typeof event !== 'object') return null;
    const nested = this.truth.featuresField === undefined ? undefined : valueAt(event, [...this.truth.featuresField.split('.'), field]);
    return labelText((event as Record<string, unknown>)[field] ?? nested);
  }

  /** Counts since the last call. */
  takeCounts(): CompareCounts {
    const c = this.counts;
    this.counts = { records: 0, deadLetters: 0, onlyA: 0 };
    return c;
  }
}
