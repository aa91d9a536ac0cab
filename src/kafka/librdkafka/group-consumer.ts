import type { Logger } from 'pino';
import { errorMessage, asError } from '../../errors.js';
import { KAFKA_CODES, kafkaError, type KafkaError } from '../errors.js';
import type { FetchedBatch, GroupConsumer, GroupConsumerOptions, GroupHandlers, TopicPartition, TopicPartitionOffset } from '../types.js';
import { ConnectionWatch, connectNative } from './config.js';
import { fromLibrdkafka, RD } from './errors.js';
import { toRecords } from './records.js';
import type { NativeConfig, NativeConsumer, NativeError, NativeMessage, NativeModule, NativeTopicPartition } from './native.js';

/** Messages one consume call returns at most: larger batches stall the event loop longer (report §8). */
const CONSUME_BATCH = 300;
/** How long one consume call waits for its first message; it returns as soon as one arrives. */
const CONSUME_TIMEOUT_MS = 50;
/** Longest a revocation waits for `handlers.revoked` before letting the partitions go. */
const REVOKE_TIMEOUT_MS = 60_000;
/** Authentication refused, or a subscribed topic missing, for this long: the consumer gives up. */
const FATAL_GRACE_MS = 30_000;
/** While brokers are unreachable or refuse us, a request checks every so often whether they are back. */
const PROBE_INTERVAL_MS = 5_000;

interface Part {
  readonly topic: string;
  readonly partition: number;
  /** A batch handed out whose promise has not resolved. */
  pending: boolean;
  /** Fetched, not handed out yet (a batch was pending, or no slot was free), in offset order. */
  held: NativeMessage[];
  /** Value bytes in `held`: at `maxBytesPerPartition` the partition is paused. */
  heldBytes: number;
  /** The offset after the last record handed out; -1 before the first. */
  next: number;
  paused: boolean;
  /** Being revoked, or stopped: nothing more is handed out. */
  closed: boolean;
  queued: boolean;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * A consumer group member over librdkafka's native KafkaConsumer. One loop calls `consume(n)`
 * and hands each partition's run of records to `handlers.batch`, at most one unresolved batch per
 * partition (and at most `partitionsConcurrently` partitions at once). While a partition's batch
 * is pending, what is fetched for it waits and goes out as its next batch once the pending one
 * resolves; past `maxBytesPerPartition` of waiting records the partition is paused, and resumed
 * when they are handed out (see `pauseBusy` for why not sooner). The loop keeps calling `consume`
 * while everything is paused: librdkafka serves rebalances and the poll interval there.
 *
 * Rebalancing is cooperative (`cooperative-sticky`, incremental assign/unassign): a rebalance
 * revokes only the partitions that move, and the others keep flowing while the revoked ones wait
 * for their work in flight. (A group cannot mix it with kafkajs members anyway: their assignors'
 * names differ.) Revocation waits for `handlers.revoked`, which commits through `commit`, before
 * the partitions are given up; librdkafka holds the rebalance until then.
 */
export class LibrdkafkaGroupConsumer implements GroupConsumer {
  native: NativeConsumer | undefined;
  private watch: ConnectionWatch | undefined;
  private handlers: GroupHandlers | undefined;
  private readonly parts = new Map<string, Part>();
  private readonly slotQueue: Part[] = [];
  private inFlight = 0;
  private loop: Promise<void> | undefined;
  private rebalancing: Promise<void> = Promise.resolve();
  private inGroup = false;
  private stopping = false;
  private leaving = false;
  private closed: Promise<void> | undefined;
  private failure: KafkaError | undefined;
  private missingSince: number | undefined;
  private lastProbe = 0;

  constructor(
    private readonly rd: NativeModule,
    private readonly base: NativeConfig,
    readonly options: GroupConsumerOptions,
    private readonly log: Logger,
  ) {}

  async run(handlers: GroupHandlers): Promise<void> {
    this.handlers = handlers;
    const o = this.options;
    const config: NativeConfig = {
      ...this.base,
      'group.id': o.groupId,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'isolation.level': o.readCommitted ? 'read_committed' : 'read_uncommitted',
      'session.timeout.ms': o.sessionTimeoutMs,
      'heartbeat.interval.ms': Math.max(500, Math.floor(o.sessionTimeoutMs / 10)),
      'max.partition.fetch.bytes': o.maxBytesPerPartition,
      'fetch.wait.max.ms': o.maxWaitMs ?? 100,
      'partition.assignment.strategy': 'cooperative-sticky',
      'allow.auto.create.topics': false,
      rebalance_cb: (err: NativeError | undefined, assignment: NativeTopicPartition[]) => this.onRebalance(err, assignment),
    };
    // A topic-level setting: the binding's topic configuration replaces any given globally.
    const native = new this.rd.KafkaConsumer(config, { 'auto.offset.reset': o.fromBeginning ? 'earliest' : 'latest' });
    const watch = new ConnectionWatch(native, this.log);
    await connectNative(native, watch, 'starting the consumer');
    this.native = native;
    this.watch = watch;
    native.setDefaultConsumeTimeout(CONSUME_TIMEOUT_MS);
    // Wait only for the first message of a batch, not for each (report §2: the timeout applies per message).
    native.setDefaultIsTimeoutOnlyForFirstMessage(true);
    try {
      native.subscribe([...o.topics]);
    } catch (err) {
      await new Promise((r) => native.disconnect(r));
      throw fromLibrdkafka(err, 'subscribing');
    }
    this.loop = this.consumeLoop(native, watch);
  }

  private async consumeLoop(native: NativeConsumer, watch: ConnectionWatch): Promise<void> {
    while (!this.leaving) {
      this.pauseBusy(native);
      let messages: NativeMessage[] = [];
      try {
        messages = await new Promise<NativeMessage[]>((resolve, reject) => native.consume(CONSUME_BATCH, (err, m) => (err ? reject(err) : resolve(m))));
      } catch (err) {
        this.onConsumeError(err);
        await sleep(100);
      }
      if (messages.length > 0) {
        watch.ok();
        this.dispatch(messages);
      }
      if (messages.length < CONSUME_BATCH) this.checkPositions(native);
      this.checkHealth(native, watch);
      // Lets resolved handlers run before the next fetch decides what to pause.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** Groups a consumed batch by partition (runs keep their order) and offers each partition its records. */
  private dispatch(messages: NativeMessage[]): void {
    const touched: Part[] = [];
    let part: Part | undefined;
    for (const m of messages) {
      // Consumed batches come in runs of one partition: look up only when the run changes.
      if (part === undefined || part.partition !== m.partition || part.topic !== m.topic) part = this.parts.get(key(m.topic, m.partition));
      if (part === undefined || part.closed) continue;
      if (part.held.length === 0) touched.push(part);
      part.held.push(m);
      part.heldBytes += m.size;
    }
    for (const part of touched) this.offer(part);
  }

  private offer(part: Part): void {
    if (part.pending || part.closed || part.held.length === 0 || this.stopping) return;
    if (this.inFlight >= this.options.partitionsConcurrently) {
      if (!part.queued) this.slotQueue.push(part);
      part.queued = true;
      return;
    }
    let messages = part.held;
    part.held = [];
    part.heldBytes = 0;
    // Never hand out a record twice (prefetched records around a pause or seek).
    if (messages[0]!.offset < part.next) messages = messages.filter((m) => m.offset >= part.next);
    if (messages.length === 0) return;
    const next = messages[messages.length - 1]!.offset + 1;
    this.handOut(part, { topic: part.topic, partition: part.partition, messages: toRecords(messages), nextOffset: String(next) }, next);
    this.resumeIdle(part);
  }

  private handOut(part: Part, batch: FetchedBatch, next: number): void {
    part.next = next;
    part.pending = true;
    this.inFlight++;
    const settle = (): void => {
      part.pending = false;
      this.inFlight--;
      if (part.held.length > 0) this.offer(part);
      while (this.inFlight < this.options.partitionsConcurrently && this.slotQueue.length > 0) {
        const waiting = this.slotQueue.shift()!;
        waiting.queued = false;
        this.offer(waiting);
      }
    };
    this.handlers!.batch(batch).then(settle, (err: unknown) => {
      this.log.warn({ err: asError(err), partition: part.partition }, 'batch handler failed');
      settle();
    });
  }

  /**
   * Pauses partitions whose records wait beyond `maxBytesPerPartition` (their batch is pending, or
   * no slot is free), and those revoked or stopping. Not any partition with a batch pending: a
   * pause drops what librdkafka prefetched for it and a resume fetches it again, which made the
   * pass-through about 2x slower when done for every pending batch; records fetched meanwhile
   * wait in `held` and go out together as the next batch.
   */
  private pauseBusy(native: NativeConsumer): void {
    let list: NativeTopicPartition[] | undefined;
    const limit = this.options.maxBytesPerPartition;
    for (const part of this.parts.values()) {
      if (part.paused || !(part.heldBytes >= limit || part.closed || this.stopping)) continue;
      part.paused = true;
      (list ??= []).push({ topic: part.topic, partition: part.partition });
    }
    if (list !== undefined) this.safely('pausing', () => native.pause(list));
  }

  private resumeIdle(part: Part): void {
    if (!part.paused || part.heldBytes >= this.options.maxBytesPerPartition || part.closed || this.stopping || this.parts.get(key(part.topic, part.partition)) !== part) return;
    part.paused = false;
    this.safely('resuming', () => this.native?.resume([{ topic: part.topic, partition: part.partition }]));
  }

  /**
   * A partition whose position moved past the last record handed out, with none to hand out
   * (transaction markers, aborted records): an empty batch carries the position, so the committed
   * offset follows it.
   */
  private checkPositions(native: NativeConsumer): void {
    if (this.stopping || this.parts.size === 0) return;
    let positions: NativeTopicPartition[];
    try {
      positions = native.position();
    } catch {
      return;
    }
    for (const p of positions) {
      const part = this.parts.get(key(p.topic, p.partition));
      if (part === undefined || p.offset === undefined || p.offset < 0) continue;
      if (part.pending || part.held.length > 0 || part.closed || part.paused || this.inFlight >= this.options.partitionsConcurrently) continue;
      // Right after an assignment (next is -1) this hands out the starting position once: harmless.
      if (p.offset > part.next) this.handOut(part, { topic: part.topic, partition: part.partition, messages: [], nextOffset: String(p.offset) }, p.offset);
    }
  }

  private onConsumeError(err: unknown): void {
    const error = fromLibrdkafka(err, 'consuming');
    if (error.code === KAFKA_CODES.authorization) return this.fail(error);
    if (error.code === KAFKA_CODES.unknownTopic) {
      // librdkafka reports a missing topic once, then waits for it: give it the grace period.
      this.missingSince ??= Date.now();
      this.log.warn({ err: error }, 'a subscribed topic does not exist (yet)');
      return;
    }
    this.log.warn({ err: error }, 'consume failed; librdkafka retries');
  }

  /** Failures that persist (authentication refused, a topic missing) end the consumer; while brokers are away, probes notice their return. */
  private checkHealth(native: NativeConsumer, watch: ConnectionWatch): void {
    const now = Date.now();
    if (watch.authFailingSince !== undefined && now - watch.authFailingSince > FATAL_GRACE_MS) {
      return this.fail(kafkaError(KAFKA_CODES.authentication, `consumer: ${watch.authDetail ?? 'authentication failed'} for ${Math.round((now - watch.authFailingSince) / 1000)} s`));
    }
    if (this.missingSince !== undefined && now - this.missingSince > FATAL_GRACE_MS) {
      this.missingSince = undefined;
      void this.missingTopics(native).then((missing) => {
        if (missing.length > 0) this.fail(kafkaError(KAFKA_CODES.unknownTopic, `topic ${missing.join(', ')} does not exist`));
      });
    }
    if ((watch.down || watch.authFailingSince !== undefined) && now - this.lastProbe > PROBE_INTERVAL_MS) {
      this.lastProbe = now;
      native.queryWatermarkOffsets(this.options.topics[0]!, 0, PROBE_INTERVAL_MS, (err) => {
        if (!err) watch.ok();
      });
    }
  }

  private async missingTopics(native: NativeConsumer): Promise<string[]> {
    const admin = this.rd.AdminClient.createFrom(native);
    const found = await new Promise<{ name: string; error?: NativeError }[]>((resolve) =>
      admin.describeTopics([...this.options.topics], { timeout: 10_000 }, (err, r) => resolve(err ? [] : r)),
    );
    return found.filter((t) => t.error?.code === RD.UNKNOWN_TOPIC_OR_PART).map((t) => t.name);
  }

  private onRebalance(err: NativeError | undefined, assignment: NativeTopicPartition[]): void {
    const native = this.native;
    if (native === undefined) return;
    const code = err?.code;
    if (this.leaving) {
      // Closing: give everything up at once, or close hangs (report §2).
      this.unassign(native, assignment);
      return;
    }
    const step = code === RD.ASSIGN_PARTITIONS ? () => this.assign(native, assignment) : code === RD.REVOKE_PARTITIONS ? () => this.revoke(native, assignment) : undefined;
    if (step === undefined) {
      this.log.warn({ err: err?.message }, 'unexpected rebalance event');
      return;
    }
    this.rebalancing = this.rebalancing.then(step).catch((e: unknown) => this.log.warn({ err: asError(e) }, 'rebalance step failed'));
  }

  private assign(native: NativeConsumer, assignment: NativeTopicPartition[]): void {
    const list = assignment.map((tp) => ({ topic: tp.topic, partition: tp.partition }));
    if (native.rebalanceProtocol() === 'COOPERATIVE') native.incrementalAssign(list);
    else native.assign(list);
    for (const tp of list) {
      this.parts.set(key(tp.topic, tp.partition), { ...tp, pending: false, held: [], heldBytes: 0, next: -1, paused: false, closed: false, queued: false });
    }
    this.inGroup = true;
    this.log.info({ assigned: list.map((tp) => tp.partition), total: this.parts.size }, 'partitions assigned');
    this.handlers?.assigned([...this.parts.values()].map((p) => ({ topic: p.topic, partition: p.partition })));
  }

  private async revoke(native: NativeConsumer, assignment: NativeTopicPartition[]): Promise<void> {
    const list: TopicPartition[] = assignment.map((tp) => ({ topic: tp.topic, partition: tp.partition }));
    const lost = native.assignmentLost();
    for (const tp of list) {
      const part = this.parts.get(key(tp.topic, tp.partition));
      if (part === undefined) continue;
      part.closed = true;
      part.held = [];
      part.heldBytes = 0;
    }
    this.pauseBusy(native);
    this.log.info({ revoked: list.map((tp) => tp.partition), lost }, 'partitions revoked');
    if (lost) this.inGroup = false;
    if (this.handlers !== undefined && list.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => (timer = setTimeout(r, REVOKE_TIMEOUT_MS)));
      await Promise.race([this.handlers.revoked(list).catch((e: unknown) => this.log.warn({ err: asError(e) }, 'revoke handler failed')), bound]);
      clearTimeout(timer);
    }
    if (!this.leaving) this.unassign(native, list);
  }

  private unassign(native: NativeConsumer, list: readonly TopicPartition[]): void {
    this.safely('unassigning', () => {
      if (native.rebalanceProtocol() === 'COOPERATIVE') native.incrementalUnassign(list.map((tp) => ({ topic: tp.topic, partition: tp.partition })));
      else native.unassign();
    });
    if (native.rebalanceProtocol() === 'COOPERATIVE') for (const tp of list) this.parts.delete(key(tp.topic, tp.partition));
    else this.parts.clear();
    for (let i = this.slotQueue.length - 1; i >= 0; i--) if (this.slotQueue[i]!.closed) this.slotQueue.splice(i, 1);
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const native = this.native;
    if (native === undefined || this.closed !== undefined) throw kafkaError(KAFKA_CODES.other, 'committing offsets: the consumer is not running');
    const list = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }));
    // commitCb runs on the libuv threadpool: the event loop does not wait for the broker (commitSync would).
    await new Promise<void>((resolve, reject) => native.commitCb(list, (err) => (err ? reject(fromLibrdkafka(err, 'committing offsets')) : resolve())));
    this.watch?.ok();
  }

  health(): { ok: boolean; detail?: string } {
    if (this.failure !== undefined) return { ok: false, detail: `failed: ${this.failure.message}` };
    if (this.native === undefined) return { ok: false, detail: 'not started' };
    if (this.stopping) return { ok: false, detail: 'stopping' };
    const watch = this.watch;
    if (watch?.authFailingSince !== undefined) return { ok: false, detail: watch.authDetail ?? 'authentication failing' };
    if (watch?.down === true) return { ok: false, detail: 'all broker connections are down' };
    if (this.missingSince !== undefined) return { ok: false, detail: `a topic of ${this.options.topics.join(', ')} does not exist` };
    if (!this.inGroup) return { ok: false, detail: 'joining the group' };
    return { ok: true };
  }

  async stop(beforeLeave?: () => Promise<void>): Promise<void> {
    if (this.native === undefined || this.stopping) return this.closed;
    this.stopping = true;
    for (const part of this.parts.values()) part.held = [];
    this.slotQueue.length = 0;
    this.pauseBusy(this.native);
    try {
      await beforeLeave?.();
    } finally {
      await this.leave();
    }
  }

  /** Ends the loop, then leaves the group (librdkafka's close revokes everything, which `onRebalance` gives up at once). */
  private leave(): Promise<void> {
    this.closed ??= (async () => {
      this.leaving = true;
      await this.loop;
      const native = this.native!;
      await new Promise((r) => native.disconnect(r));
      this.inGroup = false;
      this.log.info('consumer stopped');
    })();
    return this.closed;
  }

  private fail(error: KafkaError): void {
    if (this.failure !== undefined || this.stopping) return;
    this.failure = error;
    this.log.error({ err: error }, 'consumer failed');
    this.stopping = true;
    void this.leave().catch(() => undefined);
    this.handlers?.failed(error);
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.debug({ err: asError(err) }, `${what} failed`);
    }
  }
}

/** The native consumer behind a GroupConsumer of this adapter in group `groupId`, if it is one. */
export function nativeConsumerOf(consumer: GroupConsumer, groupId: string): NativeConsumer | undefined {
  return consumer instanceof LibrdkafkaGroupConsumer && consumer.options.groupId === groupId ? consumer.native : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
