import { open, type FileHandle } from 'node:fs/promises';
import { HEADERS, type OutputMessage, type Sink } from '../pipeline/types.js';

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
 * Predictions must be JSON-encoded (the pipeline's JSON encoder). Each `send` is one append
 * (`O_APPEND`), so several writers of one file never interleave inside a line; `send` resolves
 * once the kernel has the bytes (not fsynced: `sync` does that).
 */
export class JsonlFileSink implements Sink {
  private predictions = 0;
  private deadLetters = 0;

  private constructor(
    private readonly file: FileHandle,
    private readonly predictionsTopic: string,
    private readonly timestampOf: (partition: string, offset: string) => number | undefined,
  ) {}

  /**
   * `predictionsTopic` is the pipeline's predictions topic (a name only: nothing goes to Kafka);
   * every other output is a dead letter. `timestampOf` gives an event's timestamp by coordinates.
   */
  static async open(
    path: string,
    predictionsTopic: string,
    timestampOf: (partition: string, offset: string) => number | undefined,
  ): Promise<JsonlFileSink> {
    return new JsonlFileSink(await open(path, 'a'), predictionsTopic, timestampOf);
  }

  async send(messages: readonly OutputMessage[]): Promise<void> {
    if (messages.length === 0) return;
    let text = '';
    for (const m of messages) {
      const topic = str(m.headers[HEADERS.sourceTopic]);
      const partition = str(m.headers[HEADERS.sourcePartition]);
      const offset = str(m.headers[HEADERS.sourceOffset]);
      const ts = this.timestampOf(partition, offset);
      const head = `{"topic":${JSON.stringify(topic)},"partition":${Number(partition)},"offset":${Number(offset)},"timestamp":${ts ?? 'null'},"key":${m.key === null ? 'null' : JSON.stringify(m.key.toString('utf8'))}`;
      if (m.topic === this.predictionsTopic) {
        const value = typeof m.value === 'string' ? m.value : m.value.toString('utf8');
        text += `${head},${value.slice(1)}\n`;
        this.predictions++;
      } else {
        const dead = { reason: str(m.headers[HEADERS.dlqReason]), detail: str(m.headers[HEADERS.dlqDetail]) };
        text += `${head},"deadLetter":${JSON.stringify(dead)}}\n`;
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

function str(v: Buffer | string | (Buffer | string)[] | undefined): string {
  if (v === undefined) return '';
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return one === undefined ? '' : one.toString();
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
