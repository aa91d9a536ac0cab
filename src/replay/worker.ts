import type { Logger } from 'pino';
import type { Kafka } from 'kafkajs';
import { AvroPredictionEncoder, confluentSchemaSource, eventDecoderFor, jsonPredictionEncoder, type EventDecoder, type PredictionEncoder, type SchemaSource } from '../codec/index.js';
import { RangeReader } from '../consumer/range-reader.js';
import { ServiceError, errorMessage } from '../errors.js';
import { createKafka } from '../kafka/client.js';
import { ScoringPipeline } from '../pipeline/pipeline.js';
import type { Sink, SourceMessage } from '../pipeline/types.js';
import { KafkaSink } from '../producer/kafka-sink.js';
import { JsonlFileSink } from '../producer/jsonl-file-sink.js';
import { fixedModel, type ModelProvider } from '../scoring/model-manager.js';
import { OnnxScorer } from '../scoring/onnx-scorer.js';
import type { LiveModel } from '../scoring/types.js';
import { labelText } from './compare.js';
import { COMPARE_TOPICS, CompareSink } from './compare-sink.js';
import { InOrderWork } from './ordered.js';
import type { FromThread, ThreadInit, ThreadModel, ThreadUnit, ToThread } from './protocol.js';

/** Where the pipeline's outputs go in file mode (a name only). */
const FILE_PREDICTIONS = 'replay.file.predictions';
const FILE_DEAD_LETTERS = 'replay.file.dlq';

interface Item {
  unit: number;
  partition: number;
  messages: readonly SourceMessage[];
  next: number;
  alreadyWritten: number;
}

/**
 * One replay thread: a bounded source (its own consumer group), the scoring pipeline and a sink.
 * It takes units of work from the coordinator, reads each unit's records, runs them through
 * `ScoringPipeline.process` a few batches at a time and reports, in offset order, how far each
 * unit is done. It runs in a worker thread (see threads.ts), so scoring and encoding never hold up
 * the coordinator's event loop; it can run in-process too.
 */
export class ReplayWorker {
  private stopping = false;
  private readonly work: InOrderWork<Item>;

  private constructor(
    private readonly init: ThreadInit,
    private readonly post: (m: FromThread) => void,
    private readonly log: Logger,
    private readonly reader: RangeReader,
    private readonly pipeline: ScoringPipeline,
    private readonly decoder: EventDecoder,
    private readonly sink: Sink & { close(): Promise<void> },
    private readonly counts: () => { predictions: number; deadLetters: number },
    private readonly compareSink: CompareSink | undefined,
    private readonly models: LiveModel[],
    /** Per-record context a sink needs (file mode: timestamps; compare mode: true labels). */
    private readonly context: Map<string, number | string | null>,
  ) {
    this.work = new InOrderWork<Item>(
      { concurrency: init.inFlight, capacity: init.inFlight + 1 },
      (item) => this.run(item),
      (item) => this.retire(item),
    );
  }

  static async start(init: ThreadInit, post: (m: FromThread) => void, log: Logger): Promise<ReplayWorker> {
    const kafka = createKafka({ brokers: init.kafkaBrokers, clientId: `${init.kafkaClientId}-replay-${init.index}`, logger: log });
    const schemas = confluentSchemaSource(init.schemaRegistryUrl);
    const decoder = eventDecoderFor(init.inputFormat, schemas);
    const models: LiveModel[] = [];
    let output: ThreadSink | undefined;
    try {
      models.push(await load(init.model, init.intraOpThreads));
      if (init.compare !== undefined) models.push(await load(init.compare, init.intraOpThreads));
      const [primary, shadow] = models as [LiveModel, LiveModel | undefined];
      // The version is pinned: the pipeline asks for a plan per batch and always gets this one.
      const provider: ModelProvider = shadow === undefined ? fixedModel(primary) : { acquire: () => ({ primary, shadow }), release: () => undefined };
      const context = new Map<string, number | string | null>();
      output = await threadSink(init, kafka, schemas, context);
      const pipeline = new ScoringPipeline(provider, decoder, output.encoder, output.sink, {
        ...output.topics,
        maxBatchSize: init.maxBatchSize,
        // Batches are already large: score each chunk as soon as it is full or the batch ends.
        maxWaitMs: 0,
        featuresField: init.featuresField,
      });
      const reader = await RangeReader.open(kafka, { topic: init.sourceTopic, groupId: init.groupId, maxBytesPerPartition: init.fetchBytes }, log);
      const worker = new ReplayWorker(init, post, log, reader, pipeline, decoder, output.sink, output.counts, output.compare, models, context);
      post({ type: 'ready' });
      return worker;
    } catch (err) {
      await output?.sink.close().catch(() => undefined);
      for (const m of models) await m.scorer.release().catch(() => undefined);
      throw err;
    }
  }

  handle(msg: ToThread): void {
    switch (msg.type) {
      case 'unit':
        this.readUnit(msg.unit);
        return;
      case 'hold':
        this.work.hold().then(
          () => this.post({ type: 'held' }),
          (err: unknown) => this.fail(err),
        );
        return;
      case 'release':
        this.work.release();
        return;
      case 'stop':
        void this.stop();
        return;
    }
  }

  private readUnit(unit: ThreadUnit): void {
    const skip = new Set(unit.skip);
    this.reader
      .read(unit.partition, unit.start, unit.end, async (batch, next) => {
        let messages = batch.messages;
        if (skip.size > 0) messages = messages.filter((m) => !skip.has(Number(m.offset)));
        await this.work.push({ unit: unit.index, partition: batch.partition, messages, next, alreadyWritten: batch.messages.length - messages.length });
      })
      .then(
        () => {
          if (!this.stopping) this.post({ type: 'fetched', unit: unit.index });
        },
        (err: unknown) => {
          if (!this.stopping) this.fail(err);
        },
      );
  }

  private async run(item: Item): Promise<void> {
    if (item.messages.length === 0) return;
    const keys = await this.fillContext(item);
    try {
      await this.pipeline.process({ topic: this.init.sourceTopic, partition: item.partition, messages: item.messages });
    } catch (err) {
      // Reported here: the fetch of the unit may be over, with nobody waiting on the queue.
      this.fail(err);
      throw err;
    } finally {
      for (const k of keys) this.context.delete(k);
    }
  }

  /** File mode: each record's timestamp; compare mode: each record's true label. */
  private async fillContext(item: Item): Promise<string[]> {
    const out = this.init.output;
    if (out.kind === 'topic') return [];
    const keys: string[] = [];
    const p = String(item.partition);
    if (out.kind === 'file') {
      for (const m of item.messages) {
        const k = `${p}:${m.offset}`;
        this.context.set(k, Number(m.timestamp));
        keys.push(k);
      }
      return keys;
    }
    const field = out.labelField;
    if (field === undefined) return [];
    await this.decoder.prepare(item.messages.map((m) => m.value));
    for (const m of item.messages) {
      const k = `${p}:${m.offset}`;
      let truth: string | null = null;
      try {
        const event = this.decoder.decode(m.value) as Record<string, unknown> | null;
        const nested = this.init.featuresField === undefined ? undefined : (event?.[this.init.featuresField] as Record<string, unknown> | undefined);
        truth = labelText(event?.[field] ?? nested?.[field]);
      } catch {
        // A record that does not decode is dead-lettered by the pipeline; it has no label.
      }
      this.context.set(k, truth);
      keys.push(k);
    }
    return keys;
  }

  private retire(item: Item): void {
    const { predictions, deadLetters } = this.counts();
    if (this.compareSink !== undefined) {
      const pairs = this.compareSink.pairs.take();
      this.post({ type: 'pairs', pairs, counts: this.compareSink.takeCounts() });
    }
    this.post({
      type: 'progress',
      unit: item.unit,
      next: item.next,
      records: item.messages.length,
      alreadyWritten: item.alreadyWritten,
      predictions,
      deadLetters,
    });
  }

  private async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    try {
      await this.work.hold();
    } catch {
      // a failed batch was reported already; close anyway
    }
    // Batches fetched but not started are dropped (their offsets are not reported done), which
    // also frees the fetch loop blocked on a full queue, so the consumer can leave.
    this.work.abandon(new Error('replay thread stopping'));
    await this.close();
    this.post({ type: 'stopped' });
  }

  private async close(): Promise<void> {
    await this.reader.close().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'closing the reader failed'));
    await this.pipeline.drained().catch(() => undefined);
    await this.sink.close().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'closing the sink failed'));
    for (const m of this.models) await m.scorer.release().catch(() => undefined);
  }

  private fail(err: unknown): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.error({ err: errorMessage(err) }, 'replay thread failed');
    this.post({ type: 'failed', message: errorMessage(err), code: err instanceof ServiceError ? err.code : undefined });
    this.work.abandon(err instanceof Error ? err : new Error(String(err)));
    void this.close();
  }
}

async function load(m: ThreadModel, intraOpThreads: number): Promise<LiveModel> {
  const scorer = await OnnxScorer.load(m.bytes, { features: m.features, outputs: m.outputs }, { intraOpThreads });
  return { name: m.name, version: m.version, scorer };
}

interface ThreadSink {
  sink: Sink & { close(): Promise<void> };
  encoder: PredictionEncoder;
  /** The pipeline's topic names (names only, for a file or a comparison). */
  topics: { predictionsTopic: string; deadLetterTopic: string; shadowTopic: string | undefined };
  counts: () => { predictions: number; deadLetters: number };
  compare: CompareSink | undefined;
}

/** Where this thread's outputs go: Kafka, the JSON Lines file, or the comparison. */
async function threadSink(init: ThreadInit, kafka: Kafka, schemas: SchemaSource, context: Map<string, number | string | null>): Promise<ThreadSink> {
  const out = init.output;
  if (out.kind === 'topic') {
    const s = await KafkaSink.connect(kafka);
    return {
      sink: s,
      encoder: init.outputFormat === 'avro' ? await AvroPredictionEncoder.create(schemas, `${out.topic}-value`) : jsonPredictionEncoder,
      topics: { predictionsTopic: out.topic, deadLetterTopic: out.deadLetterTopic, shadowTopic: undefined },
      counts: () => ({ predictions: s.count(out.topic), deadLetters: s.count(out.deadLetterTopic) }),
      compare: undefined,
    };
  }
  if (out.kind === 'file') {
    const s = await JsonlFileSink.open(out.path, FILE_PREDICTIONS, (p, o) => context.get(`${p}:${o}`) as number | undefined);
    return {
      sink: s,
      encoder: jsonPredictionEncoder,
      topics: { predictionsTopic: FILE_PREDICTIONS, deadLetterTopic: FILE_DEAD_LETTERS, shadowTopic: undefined },
      counts: () => s.counts,
      compare: undefined,
    };
  }
  const compare = new CompareSink((p, o) => (context.get(`${p}:${o}`) as string | null | undefined) ?? null);
  let predictions = 0;
  let deadLetters = 0;
  return {
    sink: {
      send: async (messages) => {
        await compare.send(messages);
        for (const m of messages) {
          if (m.topic === COMPARE_TOPICS.a) predictions++;
          else if (m.topic === COMPARE_TOPICS.deadLetters) deadLetters++;
        }
      },
      close: () => Promise.resolve(),
    },
    encoder: jsonPredictionEncoder,
    topics: { predictionsTopic: COMPARE_TOPICS.a, deadLetterTopic: COMPARE_TOPICS.deadLetters, shadowTopic: COMPARE_TOPICS.b },
    counts: () => ({ predictions, deadLetters }),
    compare,
  };
}
