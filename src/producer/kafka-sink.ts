import type { Logger } from 'pino';
import type { PredictionEncoder, PredictionRecord } from '../codec/types.js';
import { asError, errorMessage } from '../errors.js';
import { DeliveryError, KAFKA_CODES, type Headers, type Producer } from '../kafka/index.js';
import type { BatchOutcomes, DeadLetterOutcome, OutputMessage, Sink, SourceMessage } from '../pipeline/types.js';
import { CONNECT_HEADERS, HEADERS, type ProvenanceForm } from './provenance.js';
import type { TransactionBatcher } from './transactions.js';

export interface KafkaSinkOptions {
  predictionsTopic: string;
  deadLetterTopic: string;
  /** Where shadow predictions go (needed when a shadow scores). */
  shadowTopic?: string | undefined;
  encoder: PredictionEncoder;
  /** Default `headers`. */
  provenance?: ProvenanceForm;
  /** Dead-letter values above this many bytes are cut to it (a header says so), so they fit the broker's limit. */
  deadLetterMaxBytes?: number;
  /** Marks every prediction as written by this replay job. */
  replayJobId?: string | undefined;
  /**
   * Makes the producer of shadow predictions, once, at the first shadow record. A producer of
   * their own keeps a missing or forbidden shadow topic from touching the primary output (kafkajs
   * refreshes the metadata of all of a producer's topics together). Default: the sink's producer.
   */
  shadowProducer?: () => Promise<Producer>;
  /** Shadow records in flight at most; beyond, new ones are dropped (and counted). Default 8 sends. */
  maxShadowSendsInFlight?: number;
  /**
   * Exactly-once: predictions, dead letters and the source offsets past each batch go in Kafka
   * transactions (the sink's producer must be transactional). Default: at-least-once.
   */
  transactions?: TransactionBatcher;
  log?: Logger;
  /** Shadow records of a model not written (dropped, or refused by the broker). */
  onShadowFailure?: (model: string, count: number, reason: string) => void;
}

const DEFAULT_DLQ_MAX_BYTES = 900 * 1024;

/**
 * Writes a batch's outcomes to Kafka: each prediction encoded (JSON or Avro) with its provenance
 * and its event's timestamp, keyed like its event; each dead letter as its original key, value and
 * headers plus the reason (the service's headers and Kafka Connect's). `send` resolves when the
 * broker acknowledged every prediction and dead letter (acks=all), which is what lets the consumer
 * commit. Shadow predictions are best effort, in sends of their own that nothing waits for.
 */
export class KafkaSink implements Sink {
  private readonly written = new Map<string, number>();
  private shadowSends = 0;
  private shadowOut: Promise<Producer> | undefined;
  private readonly provenance: ProvenanceForm;
  private readonly dlqMaxBytes: number;
  private readonly replayJob: Buffer | undefined;
  /** Per live version: its name and version encoded once, in the provenance form. */
  private readonly versionHeaders = new Map<string, { model: Buffer; version: Buffer; compact: string }>();

  constructor(
    private readonly producer: Producer,
    private readonly options: KafkaSinkOptions,
  ) {
    this.provenance = options.provenance ?? 'headers';
    this.dlqMaxBytes = options.deadLetterMaxBytes ?? DEFAULT_DLQ_MAX_BYTES;
    this.replayJob = options.replayJobId === undefined ? undefined : Buffer.from(options.replayJobId);
  }

  async send(batch: BatchOutcomes): Promise<void> {
    const { outcomes } = batch;
    if (outcomes.length === 0) return;
    const sourceTopic = Buffer.from(batch.topic);
    const sourcePartition = Buffer.from(String(batch.partition));
    const { predictionsTopic, shadowTopic } = this.options;
    const records: OutputMessage[] = [];
    let shadows: OutputMessage[] | undefined;
    let shadowModels: string[] | undefined;
    // An outcome with its own destinations (a routed model's) goes there; others to the sink's topics.
    for (const o of outcomes) {
      const to = o.to;
      if (o.kind === 'dead-letter') {
        records.push(this.deadLetter(o, batch.topic, sourceTopic, sourcePartition, to === undefined ? this.options.deadLetterTopic : to.deadLetterTopic));
        continue;
      }
      records.push(this.prediction(to === undefined ? predictionsTopic : to.predictionsTopic, o.source, o.prediction, batch, sourceTopic, sourcePartition));
      const shadowTo = to === undefined ? shadowTopic : to.shadowTopic;
      if (o.shadow !== undefined && shadowTo !== undefined) {
        (shadows ??= []).push(this.prediction(shadowTo, o.source, o.shadow, batch, sourceTopic, sourcePartition));
        (shadowModels ??= []).push(o.shadow.model);
      }
    }
    this.tallyRuns(records);
    if (shadows !== undefined) this.sendShadows(shadows, shadowModels!);
    const txn = this.options.transactions;
    if (txn === undefined) return this.sendPrimary(records);
    if (batch.nextOffset === undefined) throw new Error('exactly-once delivery needs each batch\'s next offset');
    await txn.submit(records, [{ topic: batch.topic, partition: batch.partition, offset: batch.nextOffset }]);
  }

  private prediction(topic: string, source: SourceMessage, p: PredictionRecord, batch: BatchOutcomes, sourceTopic: Buffer, sourcePartition: Buffer): OutputMessage {
    const v = this.versionOf(p.model, p.version);
    const headers: Headers =
      this.provenance === 'compact'
        ? { [HEADERS.provenance]: `${v.compact}${batch.topic}:${batch.partition}:${source.offset}` }
        : { [HEADERS.model]: v.model, [HEADERS.version]: v.version, [HEADERS.sourceTopic]: sourceTopic, [HEADERS.sourcePartition]: sourcePartition, [HEADERS.sourceOffset]: source.offset };
    if (this.replayJob !== undefined) headers[HEADERS.replayJob] = this.replayJob;
    return { topic, key: source.key, value: this.options.encoder.encode(p), headers, timestamp: source.timestamp };
  }

  private deadLetter(o: DeadLetterOutcome, topic: string, sourceTopic: Buffer, sourcePartition: Buffer, to: string): OutputMessage {
    const m = o.source;
    let value = m.value ?? Buffer.alloc(0);
    const headers: Headers = {
      ...m.headers,
      [HEADERS.dlqReason]: o.reason,
      [HEADERS.dlqDetail]: o.detail,
      [HEADERS.sourceTopic]: sourceTopic,
      [HEADERS.sourcePartition]: sourcePartition,
      [HEADERS.sourceOffset]: m.offset,
      [CONNECT_HEADERS.topic]: topic,
      [CONNECT_HEADERS.partition]: sourcePartition,
      [CONNECT_HEADERS.offset]: m.offset,
      [CONNECT_HEADERS.exceptionClass]: 'kscore.PoisonEventError',
      [CONNECT_HEADERS.exceptionMessage]: `${o.reason}: ${o.detail}`,
    };
    if (value.length > this.dlqMaxBytes) {
      headers[HEADERS.dlqTruncated] = 'true';
      headers[HEADERS.dlqOriginalSize] = String(value.length);
      value = value.subarray(0, this.dlqMaxBytes);
    }
    // A replay's dead letters say which job wrote them, as its predictions do.
    if (this.replayJob !== undefined) headers[HEADERS.replayJob] = this.replayJob;
    return { topic: to, key: m.key, value, headers, timestamp: m.timestamp };
  }

  /**
   * Predictions and dead letters: all must be acknowledged. A dead letter the broker finds too
   * large (its limit is below `deadLetterMaxBytes`) is cut in half and sent again, until it fits.
   */
  private async sendPrimary(records: readonly OutputMessage[]): Promise<void> {
    let todo = records;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.producer.send(todo);
        return;
      } catch (err) {
        if (!(err instanceof DeliveryError) || attempt >= 8) throw err;
        const failed = err.failures.map((f) => ({ record: todo[f.index]!, error: f.error }));
        const tooLarge = failed.every((f) => f.error.code === KAFKA_CODES.recordTooLarge && f.record.headers[HEADERS.dlqReason] !== undefined);
        if (!tooLarge) throw err;
        todo = failed.map((f) => halved(f.record));
      }
    }
  }

  /** Best effort: counted by model (`models[i]` is record i's) when not written. */
  private sendShadows(records: OutputMessage[], models: readonly string[]): void {
    const max = this.options.maxShadowSendsInFlight ?? 8;
    if (this.shadowSends >= max) {
      this.countShadowFailures(models, 'shadow sends backed up');
      return;
    }
    this.shadowSends++;
    this.tallyRuns(records);
    const make = this.options.shadowProducer;
    this.shadowOut ??= make === undefined ? Promise.resolve(this.producer) : make();
    this.shadowOut
      .then((p) => p.send(records))
      .catch((err: unknown) => {
        const failed = err instanceof DeliveryError ? err.failures.map((f) => models[f.index]!) : models;
        this.countShadowFailures(failed, errorMessage(err));
        this.options.log?.warn({ err: asError(err), records: failed.length, topic: records[0]!.topic }, 'shadow predictions not written');
      })
      .finally(() => this.shadowSends--);
  }

  private countShadowFailures(models: readonly string[], reason: string): void {
    const report = this.options.onShadowFailure;
    if (report === undefined) return;
    const counts = new Map<string, number>();
    for (const m of models) counts.set(m, (counts.get(m) ?? 0) + 1);
    for (const [model, count] of counts) report(model, count, reason);
  }

  private versionOf(model: string, version: string): { model: Buffer; version: Buffer; compact: string } {
    const key = `${model}\u0000${version}`;
    let v = this.versionHeaders.get(key);
    if (v === undefined) this.versionHeaders.set(key, (v = { model: Buffer.from(model), version: Buffer.from(version), compact: `${model}:${version}@` }));
    return v;
  }

  /** Counts records per topic: one map update per run of records of one topic (most batches are one run). */
  private tallyRuns(records: readonly OutputMessage[]): void {
    for (let i = 0; i < records.length; ) {
      const topic = records[i]!.topic;
      let end = i + 1;
      while (end < records.length && records[end]!.topic === topic) end++;
      this.written.set(topic, (this.written.get(topic) ?? 0) + end - i);
      i = end;
    }
  }

  /** Records handed to `send` so far on `topic` (acknowledged once their `send` resolved; shadows: best effort). */
  count(topic: string): number {
    return this.written.get(topic) ?? 0;
  }

  async close(): Promise<void> {
    const shadow = this.shadowOut;
    await this.producer.close();
    if (shadow !== undefined && this.options.shadowProducer !== undefined) await (await shadow.catch(() => undefined))?.close();
  }
}

/** A dead letter with half its value, marked truncated with its original size. */
function halved(r: OutputMessage): OutputMessage {
  const value = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
  const original = r.headers[HEADERS.dlqOriginalSize] ?? String(value.length);
  return { ...r, value: value.subarray(0, Math.floor(value.length / 2)), headers: { ...r.headers, [HEADERS.dlqTruncated]: 'true', [HEADERS.dlqOriginalSize]: original } };
}

