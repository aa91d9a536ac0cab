import { createReadStream } from 'node:fs';
import { open, stat, truncate } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { Admin, KafkaClient } from '../kafka/index.js';
import { HEADERS, headerText, readProvenance } from '../producer/provenance.js';
import type { JsonlRecord } from '../producer/jsonl-file-sink.js';
import { removeQuietly } from './parquet.js';
import { ReplayParamsError } from './range.js';
import type { OutputMarks } from './store.js';
import { convertToParquetInThread } from './threads.js';
import type { ReplayPlan } from './types.js';

/** Source offsets found in the output, by source partition. */
export type Written = Map<number, Set<number>>;

/**
 * The coordinator's side of an output: where it ends now, and what a job already wrote there.
 * Together they make a resume write nothing twice (docs/replay.md, "Resume").
 */
export interface ReplayOutput {
  /** Before a run: topics exist; a new job's file does not exist yet (and is created). */
  prepare(fresh: boolean): Promise<void>;
  /** Where the output ends now. Taken while no thread has a batch in flight. */
  marks(): Promise<OutputMarks>;
  /** The records of this job's source written at or after `marks`. */
  written(marks: OutputMarks): Promise<Written>;
  /** After the last record: what the output needs to be complete (Parquet). */
  finish(): Promise<void>;
  /** Where the threads write (the file, or the JSON Lines spool of a Parquet output). */
  readonly path?: string;
}

export function outputFor(plan: ReplayPlan, deps: { kafka: KafkaClient; admin: Admin; log: Logger; topicPartitions: number; createTopics: boolean; scanGroupId: string }): ReplayOutput {
  const out = plan.output;
  if (out.kind === 'topic') return new TopicOutput(plan, out.topic, out.deadLetterTopic, deps);
  if (out.kind === 'file') return new FileOutput(plan.sourceTopic, out.path, out.format);
  return { prepare: async () => undefined, marks: async () => ({ kind: 'none' }), written: async () => new Map(), finish: async () => undefined };
}

function add(w: Written, partition: number, offset: number): void {
  let set = w.get(partition);
  if (set === undefined) w.set(partition, (set = new Set()));
  set.add(offset);
}

class TopicOutput implements ReplayOutput {
  constructor(
    private readonly plan: ReplayPlan,
    private readonly topic: string,
    private readonly deadLetterTopic: string,
    private readonly deps: { kafka: KafkaClient; admin: Admin; log: Logger; topicPartitions: number; createTopics: boolean; scanGroupId: string },
  ) {}

  async prepare(): Promise<void> {
    const topics = [...new Set([this.topic, this.deadLetterTopic])];
    if (this.deps.createTopics) await this.deps.admin.ensureTopics(topics, this.deps.topicPartitions);
  }

  async marks(): Promise<OutputMarks> {
    const offsets: Record<string, Record<string, number>> = {};
    for (const topic of new Set([this.topic, this.deadLetterTopic])) {
      const ends = await this.deps.admin.watermarks(topic);
      offsets[topic] = Object.fromEntries(ends.map((e) => [String(e.partition), e.high]));
    }
    return { kind: 'topic', offsets };
  }

  /**
   * Reads both topics from the marks to their end and keeps the records of this job: from the
   * same source topic and, for predictions, by the same model version. That is the idempotency
   * key of a replayed record: source topic, partition, offset and model version.
   */
  async written(marks: OutputMarks): Promise<Written> {
    const found: Written = new Map();
    if (marks.kind !== 'topic') return found;
    const { name, version } = this.plan.model;
    for (const [topic, from] of Object.entries(marks.offsets)) {
      const ends = await this.deps.admin.watermarks(topic);
      const todo = ends.map((e) => ({ partition: e.partition, start: from[String(e.partition)] ?? 0, end: e.high })).filter((r) => r.end > r.start);
      if (todo.length === 0) continue;
      const reader = await this.deps.kafka.rangeReader({ topic, groupId: `${this.deps.scanGroupId}-${topic}`, maxBytesPerPartition: 8 * 1024 * 1024, readCommitted: true });
      try {
        for (const r of todo) {
          await reader.read(r.partition, r.start, r.end, async (batch) => {
            for (const m of batch.messages) {
              const h = m.headers ?? {};
              const p = readProvenance(h);
              if (p === undefined || p.topic !== this.plan.sourceTopic) continue;
              if (p.model !== undefined && (p.model !== name || p.version !== version)) continue;
              if (p.model === undefined && headerText(h[HEADERS.dlqReason]) === undefined) continue;
              add(found, p.partition, p.offset);
            }
          });
        }
      } finally {
        await reader.close();
      }
      await this.deps.admin.deleteGroups([`${this.deps.scanGroupId}-${topic}`]).catch(() => undefined);
    }
    return found;
  }

  async finish(): Promise<void> {}
}

/** The JSON Lines file (or a Parquet output's JSON Lines spool), written by the threads with O_APPEND. */
class FileOutput implements ReplayOutput {
  readonly path: string;

  constructor(
    private readonly sourceTopic: string,
    private readonly target: string,
    private readonly format: 'jsonl' | 'parquet',
  ) {
    this.path = format === 'parquet' ? `${target}.partial.jsonl` : target;
  }

  async prepare(fresh: boolean): Promise<void> {
    if (fresh) {
      for (const p of new Set([this.target, this.path])) {
        if (await exists(p)) throw new ReplayParamsError(`the output file ${p} exists; replay does not overwrite files`);
      }
      await (await open(this.path, 'wx')).close();
    } else if (!(await exists(this.path))) {
      throw new ReplayParamsError(`the output file ${this.path} is gone: the job cannot resume`);
    }
  }

  async marks(): Promise<OutputMarks> {
    const fh = await open(this.path, 'r+');
    try {
      // What the checkpoint counts as written must survive a machine crash too.
      await fh.datasync();
      return { kind: 'file', bytes: (await fh.stat()).size };
    } finally {
      await fh.close();
    }
  }

  async written(marks: OutputMarks): Promise<Written> {
    const found: Written = new Map();
    if (marks.kind !== 'file') return found;
    await this.dropPartialLine();
    const size = (await stat(this.path)).size;
    if (size <= marks.bytes) return found;
    const lines = createInterface({ input: createReadStream(this.path, { start: marks.bytes, encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.length === 0) continue;
      const r = JSON.parse(line) as JsonlRecord;
      if (r.topic === this.sourceTopic) add(found, r.partition, r.offset);
    }
    return found;
  }

  /** A process killed mid-write can leave half a line at the end: it is not part of the output. */
  private async dropPartialLine(): Promise<void> {
    const fh = await open(this.path, 'r');
    let keep: number;
    try {
      const { size } = await fh.stat();
      if (size === 0) return;
      const buf = Buffer.alloc(Math.min(size, 1 << 20));
      let end = size;
      keep = -1;
      while (end > 0 && keep < 0) {
        const start = Math.max(0, end - buf.length);
        const { bytesRead } = await fh.read(buf, 0, end - start, start);
        const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
        if (nl >= 0) keep = start + nl + 1;
        end = start;
      }
      if (keep < 0) keep = 0;
      if (keep === size) return;
    } finally {
      await fh.close();
    }
    await truncate(this.path, keep);
  }

  async finish(): Promise<void> {
    if (this.format !== 'parquet') return;
    await convertToParquetInThread(this.path, this.target);
    await removeQuietly(this.path);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

