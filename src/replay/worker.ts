import type { Logger } from 'pino';
import { confluentSchemaSource, eventDecoderFor, predictionEncoderFor, type SchemaSource } from '../codec/index.js';
import { ServiceError, asError, errorMessage } from '../errors.js';
import { createKafkaClient, type KafkaClient, type RangeReader } from '../kafka/index.js';
import { ScoringPipeline, type BatchCounts } from '../pipeline/pipeline.js';
import type { Sink, SourceMessage } from '../pipeline/types.js';
import { KafkaSink } from '../producer/kafka-sink.js';
import { JsonlFileSink } from '../producer/jsonl-file-sink.js';
import { fixedModel, type ModelProvider } from '../scoring/model-manager.js';
import { OnnxScorer } from '../scoring/onnx-scorer.js';
import type { LiveModel } from '../scoring/types.js';
import { CompareSink } from './compare-sink.js';
import { InOrderWork } from './ordered.js';
import type { FromThread, ThreadInit, ThreadModel, ThreadUnit, ToThread } from './protocol.js';

interface Item {
  unit: number;
  partition: number;
  messages: readonly SourceMessage[];
  next: number;
  alreadyWritten: number;
  /** What its batch wrote, once processed. */
  written?: BatchCounts;
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
  private readonly totals = { predictions: 0, deadLetters: 0 };

  private constructor(
    private readonly init: ThreadInit,
    private readonly post: (m: FromThread) => void,
    private readonly log: Logger,
    private readonly reader: RangeReader,
    private readonly pipeline: ScoringPipeline,
    private readonly sink: Sink & { close(): Promise<void> },
    private readonly compareSink: CompareSink | undefined,
    private readonly models: LiveModel[],
  ) {
    this.work = new InOrderWork<Item>(
      { concurrency: init.inFlight, capacity: init.inFlight + 1 },
      (item) => this.run(item),
      (item) => this.retire(item),
    );
  }

  static async start(init: ThreadInit, post: (m: FromThread) => void, log: Logger): Promise<ReplayWorker> {
    const kafka = await createKafkaClient(init.kafka, log);
    const schemas = confluentSchemaSource(init.registry);
    const decoder = eventDecoderFor(init.decoding, schemas);
    const models: LiveModel[] = [];
    let output: ThreadSink | undefined;
    try {
      models.push(await load(init.model, init.intraOpThreads));
      if (init.compare !== undefined) models.push(await load(init.compare, init.intraOpThreads));
      const [primary, shadow] = models as [LiveModel, LiveModel | undefined];
      // The version is pinned: the pipeline asks for a plan per batch and always gets this one.
      const provider: ModelProvider = shadow === undefined ? fixedModel(primary) : { acquire: () => ({ primary, shadow }), release: () => undefined };
      output = await threadSink(init, kafka, schemas);
      const pipeline = new ScoringPipeline(provider, decoder, output.sink, {
        maxBatchSize: init.maxBatchSize,
        // Batches are already large: score each chunk as soon as it is full or the batch ends.
        maxWaitMs: 0,
        featuresField: init.featuresField,
        featurePaths: init.featurePaths,
        keepEvents: init.output.kind === 'compare' && init.output.labelField !== undefined,
      });
      const reader = await kafka.rangeReader({ topic: init.sourceTopic, groupId: init.groupId, maxBytesPerPartition: init.fetchBytes, readCommitted: true });
      const worker = new ReplayWorker(init, post, log, reader, pipeline, output.sink, output.compare, models);
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
    try {
      item.written = await this.pipeline.process({ topic: this.init.sourceTopic, partition: item.partition, messages: item.messages });
    } catch (err) {
      // Reported here: the fetch of the unit may be over, with nobody waiting on the queue.
      this.fail(err);
      throw err;
    }
  }

  private retire(item: Item): void {
    // Totals of retired batches only: a checkpoint's counts must cover exactly its offsets.
    this.totals.predictions += item.written?.predictions ?? 0;
    this.totals.deadLetters += item.written?.deadLetters ?? 0;
    const { predictions, deadLetters } = this.totals;
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
    await this.reader.close().catch((err: unknown) => this.log.warn({ err: asError(err) }, 'closing the reader failed'));
    await this.pipeline.drained().catch(() => undefined);
    await this.sink.close().catch((err: unknown) => this.log.warn({ err: asError(err) }, 'closing the sink failed'));
    for (const m of this.models) await m.scorer.release().catch(() => undefined);
  }

  private fail(err: unknown): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.error({ err: asError(err) }, 'replay thread failed');
    this.post({ type: 'failed', message: errorMessage(err), code: err instanceof ServiceError ? err.code : undefined });
    this.work.abandon(err instanceof Error ? err : new Error(String(err)));
    void this.close();
  }
}

async function load(m: ThreadModel, intraOpThreads: number): Promise<LiveModel> {
  const scorer = await OnnxScorer.load(m.bytes, { features: m.features, inputs: m.inputs, outputs: m.outputs }, { intraOpThreads });
  return { name: m.name, version: m.version, scorer };
}

interface ThreadSink {
  sink: Sink & { close(): Promise<void> };
  compare: CompareSink | undefined;
}

/** Where this thread's outputs go: Kafka, the JSON Lines file, or the comparison. */
async function threadSink(init: ThreadInit, kafka: KafkaClient, schemas: SchemaSource): Promise<ThreadSink> {
  const out = init.output;
  if (out.kind === 'topic') {
    const encoder = await predictionEncoderFor(init.encoding, schemas, out.topic);
    const s = new KafkaSink(await kafka.producer({ idempotent: true }), {
      predictionsTopic: out.topic,
      deadLetterTopic: out.deadLetterTopic,
      encoder,
      provenance: init.provenance,
      replayJobId: init.jobId,
    });
    return { sink: s, compare: undefined };
  }
  if (out.kind === 'file') {
    const s = await JsonlFileSink.open(out.path);
    return { sink: s, compare: undefined };
  }
  const compare = new CompareSink({ labelField: out.labelField, featuresField: init.featuresField });
  return {
    sink: { send: (batch) => compare.send(batch), close: () => Promise.resolve() },
    compare,
  };
}
