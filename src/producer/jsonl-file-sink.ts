import { open, type FileHandle } from 'node:fs/promises';
import type { BatchOutcomes, Sink } from '../pipeline/types.js';

/**
 * A sink writing one JSON line per record to a local file: a prediction with where its event came
 * from,
 *
 *   {"topic":"features","partition":0,"offset":17,"timestamp":1764230400000,"key":"k17",
 *    "model":"churn","version":"3","score":0.83,"label":null,"probabilities":null}
 *
 * or a dead letter, `{"topic":..,"partition":..,"offset":..,"timestamp":..,"key":..,
 * "deadLetter":{"reason":"missing-feature","detail":"feature \"f0\" is missing"}}`.
 *
 * Each `send` is one append (`O_APPEND`), so several writers of one file never interleave inside a
 * line; `send` resolves once the kernel has the bytes (not fsynced).
 */
export class JsonlFileSink implements Sink {
  private predictions = 0;
  private deadLetters = 0;

  private constructor(private readonly file: FileHandle) {}

  static async open(path: string): Promise<JsonlFileSink> {
    return new JsonlFileSink(await open(path, 'a'));
  }

  async send(batch: BatchOutcomes): Promise<void> {
    if (batch.outcomes.length === 0) return;
    const where = `{"topic":${JSON.stringify(batch.topic)},"partition":${batch.partition},"offset":`;
    let text = '';
    for (const o of batch.outcomes) {
      const m = o.source;
      const head = `${where}${Number(m.offset)},"timestamp":${Number(m.timestamp)},"key":${m.key === null ? 'null' : JSON.stringify(m.key.toString('utf8'))}`;
      if (o.kind === 'scored') {
        const p = o.prediction;
        text += `${head},"model":${JSON.stringify(p.model)},"version":${JSON.stringify(p.version)},"score":${JSON.stringify(p.score)},"label":${JSON.stringify(p.label)},"probabilities":${JSON.stringify(p.probabilities)}}\n`;
        this.predictions++;
      } else {
        text += `${head},"deadLetter":${JSON.stringify({ reason: o.reason, detail: o.detail })}}\n`;
        this.deadLetters++;
      }
    }
    await this.file.write(text);
  }

  get counts(): { predictions: number; deadLetters: number } {
    return { predictions: this.predictions, deadLetters: this.deadLetters };
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** The fields of a line `JsonlFileSink` wrote. */
export interface JsonlRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number | null;
  key: string | null;
  model?: string;
  version?: string;
  score?: number | null;
  label?: string | null;
  probabilities?: number[] | null;
  deadLetter?: { reason: string; detail: string };
}
