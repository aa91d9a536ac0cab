import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { ServiceError, asError, errorMessage } from '../errors.js';
import { kafkaConnection, type Admin, type KafkaClient } from '../kafka/index.js';
import { CompareAccumulator } from './compare.js';
import { outputFor, type ReplayOutput } from './output.js';
import type { ReplayModelSource } from './planner.js';
import { RateMeter, etaSeconds, ratio } from './progress.js';
import type { FromThread, ThreadInit, ThreadModel } from './protocol.js';
import { fromRuns, toRuns } from './ordered.js';
import type { Checkpoint, OutputMarks, ReplayStore } from './store.js';
import { ThreadPool, type PooledThread } from './thread-pool.js';
import type { PinnedModel, ReplayPlan, ReplayProgress, ReplayState, ReplayStatus } from './types.js';

export interface RunDeps {
  config: Config;
  log: Logger;
  kafka: KafkaClient;
  admin: Admin;
  store: ReplayStore;
  models: ReplayModelSource;
  /** Who holds the job's lease while this run goes (unique per process). */
  owner: string;
  /** Called with the job's status on every checkpoint and state change. */
  onStatus: (s: ReplayStatus) => void;
  /** The lease expires this long after its last renewal, in ms. Default 10000. */
  leaseTtlMs?: number;
}

type Ending = 'done' | 'stopped' | 'failed';

/** The job is being run by another process. */
export class ReplayBusyError extends ServiceError {
  constructor(message: string) {
    super('REPLAY_BUSY', message, { canRetry: true });
  }
}

/**
 * One run of one job (its first start, or a resume), in the coordinating thread. It hands the
 * plan's units of work to the replay threads, follows how far each unit is done, writes the
 * checkpoint every `checkpointIntervalMs`, and every `markIntervalMs` pauses the threads between
 * batches to record where the output ends (the marks a resume reads back from). It ends when
 * every unit is done, when asked to stop (cancel, shutdown), or at the first failure; a failed or
 * stopped run can be resumed from its checkpoint.
 */
export class ReplayRun {
  readonly finished: Promise<ReplayStatus>;
  private status: ReplayStatus;
  private next: number[];
  private skip = new Map<number, Set<number>>();
  private marks: OutputMarks = { kind: 'none' };
  private base = { predictions: 0, deadLetters: 0, alreadyWritten: 0 };
  private alreadyWritten = 0;
  private readonly pool = new ThreadPool(
    {
      idle: (t) => this.assign(t),
      progress: (_t, m) => this.onProgress(m),
      pairs: (m) => {
        this.compareStats().add(m.pairs);
        this.compareStats().addCounts(m.counts);
      },
      failed: (err) => this.fail(err),
    },
    () => this.failure !== undefined,
    () => this.stopRequest === undefined && !this.allDone(),
  );
  private pending: number[] = [];
  private readonly meter = new RateMeter();
  private compare: CompareAccumulator | undefined;
  private stopRequest: 'cancelled' | 'interrupted' | undefined;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private output: ReplayOutput | undefined;
  private leaseHeld = false;
  private stoppedCleanly = false;
  /** Positions are established (from the checkpoint, or the first one is written): a checkpoint may be saved. */
  private restored = false;
  private readonly plan: ReplayPlan;

  private constructor(
    private readonly deps: RunDeps,
    status: ReplayStatus,
    private checkpoint: Checkpoint | undefined,
  ) {
    if (status.plan === undefined) throw new Error('a job runs from its plan');
    this.plan = status.plan;
    this.status = status;
    this.next = this.plan.units.map((u) => u.start);
    this.finished = this.execute();
  }

  static begin(deps: RunDeps, status: ReplayStatus, checkpoint: Checkpoint | undefined): ReplayRun {
    return new ReplayRun(deps, status, checkpoint);
  }

  /** Asks the run to stop after the batches in flight; resolves with the final status. */
  stop(state: 'cancelled' | 'interrupted'): Promise<ReplayStatus> {
    this.stopRequest ??= state;
    this.wake?.();
    return this.finished;
  }

  /** The status now, progress computed from the threads' latest reports. */
  current(): ReplayStatus {
    return { ...this.status, progress: this.progress() };
  }

  private async execute(): Promise<ReplayStatus> {
    const { store, log } = this.deps;
    const id = this.status.id;
    let ending: Ending = 'failed';
    try {
      await this.acquireLease();
    } catch (err) {
      // Someone else runs the job (or it was stopped first): its record is theirs, leave it alone.
      log.warn({ job: id, err: asError(err) }, 'replay not started');
      return { ...this.status, error: errorMessage(err) };
    }
    try {
      const compareMode = this.plan.output.kind === 'compare';
      // Compare mode writes nothing to resume from: a resume starts it again.
      if (compareMode) this.checkpoint = undefined;
      const run = this.status.runs + 1;
      const { error: _previous, ...rest } = this.status;
      this.status = { ...rest, state: 'running', runs: run, startedAt: this.status.startedAt ?? new Date().toISOString() };
      this.output = outputFor(this.plan, {
        kafka: this.deps.kafka,
        admin: this.deps.admin,
        log,
        topicPartitions: this.deps.config.topicPartitions,
        createTopics: this.deps.config.createTopics,
        scanGroupId: `kscore-replay-${id}-r${run}-scan`,
      });
      await this.output.prepare(this.checkpoint === undefined);
      await this.restore();
      await this.persist();

      this.pending = this.plan.units.map((_, i) => i).filter((i) => this.next[i]! < this.plan.units[i]!.end);
      if (this.pending.length > 0) {
        await this.startThreads(run);
        ending = await this.loop();
      } else {
        ending = 'done';
      }
      this.stoppedCleanly = await this.stopThreads(ending === 'failed');
      if (ending === 'done') {
        await this.output.finish();
        if (this.plan.compare !== undefined) {
          this.status = { ...this.status, report: this.compareStats().report(this.plan.model, this.plan.compare) };
        }
      }
    } catch (err) {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
      ending = 'failed';
      await this.stopThreads(true);
    }
    return this.finish(ending);
  }

  private compareStats(): CompareAccumulator {
    this.compare ??= new CompareAccumulator(this.status.params.compare!);
    return this.compare;
  }

  /** Positions from the checkpoint, and what a crashed run wrote past them (found in the output). */
  private async restore(): Promise<void> {
    const cp = this.checkpoint;
    const output = this.output!;
    if (cp === undefined) {
      this.marks = await output.marks();
      this.restored = true;
      await this.saveCheckpoint();
      return;
    }
    this.next = [...cp.next];
    this.marks = cp.marks;
    this.base = { ...cp.counts };
    for (const [u, runs] of Object.entries(cp.skip)) this.skip.set(Number(u), new Set(fromRuns(runs)));
    const written = await output.written(cp.marks);
    let found = 0;
    this.plan.units.forEach((unit, u) => {
      const offsets = written.get(unit.partition);
      if (offsets === undefined) return;
      for (const o of offsets) {
        if (o < this.next[u]! || o >= unit.end) continue;
        let set = this.skip.get(u);
        if (set === undefined) this.skip.set(u, (set = new Set()));
        if (!set.has(o)) found++;
        set.add(o);
      }
    });
    this.restored = true;
    if (found > 0) this.deps.log.info({ job: this.status.id, found }, 'records past the checkpoint are in the output already; they will not be written again');
  }

  private async startThreads(run: number): Promise<void> {
    const model = await this.threadModel(this.plan.model);
    const compare = this.plan.compare === undefined ? undefined : await this.threadModel(this.plan.compare);
    const count = Math.min(this.plan.threads, this.pending.length);
    this.pool.start(Array.from({ length: count }, (_, i) => this.threadInit(i, run, model, compare)));
  }

  /** Everything thread `i` of this run needs. */
  private threadInit(i: number, run: number, model: ThreadModel, compare: ThreadModel | undefined): ThreadInit {
    const { config } = this.deps;
    const t = this.status.params.tuning;
    const out = this.plan.output;
    return {
      index: i,
      jobId: this.status.id,
      groupId: this.threadGroup(run, i),
      kafka: kafkaConnection(config, `replay-${i}`),
      logLevel: config.logLevel,
      registry: {
        schemaRegistryUrl: config.schemaRegistryUrl,
        schemaRegistryUsername: config.schemaRegistryUsername,
        schemaRegistryPassword: config.schemaRegistryPassword,
        schemaRegistryCaFile: config.schemaRegistryCaFile,
        schemaRegistryTimeoutMs: config.schemaRegistryTimeoutMs,
      },
      decoding: { inputFormat: config.inputFormat, jsonSchemaValidate: config.jsonSchemaValidate },
      encoding: {
        outputFormat: config.outputFormat,
        subjectNameStrategy: config.subjectNameStrategy,
        autoRegisterSchemas: config.autoRegisterSchemas,
        outputSchemaId: config.outputSchemaId,
        outputSchemaSubject: config.outputSchemaSubject,
      },
      provenance: config.provenanceHeaders,
      featuresField: config.featuresField,
      featurePaths: config.featurePaths,
      sourceTopic: this.plan.sourceTopic,
      model,
      compare,
      output:
        out.kind === 'topic'
          ? { kind: 'topic', topic: out.topic, deadLetterTopic: out.deadLetterTopic }
          : out.kind === 'file'
            ? { kind: 'file', path: this.output!.path! }
            : { kind: 'compare', labelField: this.status.params.compare?.labelField },
      maxBatchSize: t.maxBatchSize,
      fetchBytes: t.fetchBytes,
      inFlight: t.inFlight,
      intraOpThreads: 1,
    };
  }

  /** The consumer group a thread reads through (kafkajs needs one; it never commits). */
  private threadGroup(run: number, i: number): string {
    return `kscore-replay-${this.status.id}-r${run}-t${i}`;
  }

  private async threadModel(m: PinnedModel): Promise<ThreadModel> {
    const artifact = await this.deps.models.getVersion(m.name, m.version);
    if (artifact === undefined) throw new ServiceError('REPLAY_MODEL_GONE', `model ${m.name} version ${m.version} is no longer in the registry`);
    const { features, inputs, outputs } = artifact.meta;
    return { name: m.name, version: m.version, bytes: new Uint8Array(artifact.bytes), features: [...features], ...(inputs === undefined ? {} : { inputs: [...inputs] }), outputs };
  }

  private onProgress(m: Extract<FromThread, { type: 'progress' }>): void {
    if (m.next > this.next[m.unit]!) this.next[m.unit] = m.next;
    this.alreadyWritten += m.alreadyWritten;
    const skip = this.skip.get(m.unit);
    if (skip !== undefined) {
      for (const o of skip) if (o < m.next) skip.delete(o);
      if (skip.size === 0) this.skip.delete(m.unit);
    }
    this.meter.add(Date.now(), this.doneOffsets());
    if (this.allDone()) this.wake?.();
  }

  private assign(t: PooledThread): void {
    if (this.stopRequest !== undefined || this.failure !== undefined) return;
    const u = this.pending.shift();
    if (u === undefined) return;
    const unit = this.plan.units[u]!;
    const skip = [...(this.skip.get(u) ?? [])].filter((o) => o >= this.next[u]!);
    this.pool.send(t, { index: u, partition: unit.partition, start: this.next[u]!, end: unit.end, skip });
  }

  private fail(err: Error): void {
    if (this.failure !== undefined || this.stopRequest !== undefined) return;
    this.failure = err;
    this.wake?.();
  }

  private allDone(): boolean {
    return this.plan.units.every((u, i) => this.next[i]! >= u.end);
  }

  private doneOffsets(): number {
    return this.plan.units.reduce((s, u, i) => s + (this.next[i]! - u.start), 0);
  }

  private async loop(): Promise<Ending> {
    const t = this.status.params.tuning;
    let lastMark = Date.now();
    for (;;) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, t.checkpointIntervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      if (this.failure !== undefined) return 'failed';
      if (this.allDone()) return 'done';
      if (this.stopRequest !== undefined) return 'stopped';
      try {
        if (await this.deps.store.cancelRequested(this.status.id)) {
          await this.deps.store.clearCancel(this.status.id);
          this.stopRequest = 'cancelled';
          return 'stopped';
        }
        await this.renewLease();
        if (Date.now() - lastMark >= t.markIntervalMs) {
          await this.barrier();
          lastMark = Date.now();
        } else {
          await this.saveCheckpoint();
        }
        await this.persist();
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** Pauses every thread between batches, records where the output ends, and goes on. */
  private async barrier(): Promise<void> {
    await this.pool.hold();
    try {
      if (this.failure === undefined) {
        this.marks = await this.output!.marks();
        await this.saveCheckpoint();
      }
    } finally {
      this.pool.release();
    }
  }

  /**
   * Ends the threads: gracefully unless the run failed (then at once, and whatever they had in
   * flight is left to the next resume to find), and removes their groups. True when every thread
   * finished its batches.
   */
  private async stopThreads(hard: boolean): Promise<boolean> {
    const clean = await this.pool.stop(hard);
    const groups = this.pool.threads.map((t) => this.threadGroup(this.status.runs, t.index));
    if (groups.length > 0) await this.deps.admin.deleteGroups(groups).catch(() => undefined);
    return clean;
  }

  private async finish(ending: Ending): Promise<ReplayStatus> {
    const state: ReplayState = ending === 'done' ? 'succeeded' : ending === 'stopped' ? (this.stopRequest ?? 'interrupted') : 'failed';
    this.status = {
      ...this.status,
      state,
      finishedAt: new Date().toISOString(),
      ...(this.failure === undefined || ending !== 'failed' ? {} : { error: errorMessage(this.failure) }),
    };
    const { store, log } = this.deps;
    try {
      if (ending === 'stopped' && this.stoppedCleanly && this.output !== undefined) {
        // Nothing is in flight now: the output's end is a safe mark.
        this.marks = await this.output.marks();
      }
      if (state === 'succeeded') await store.clearCheckpoint(this.status.id);
      else if (this.restored && this.plan.output.kind !== 'compare') await this.saveCheckpoint();
      await this.persist();
    } catch (err) {
      log.error({ job: this.status.id, err: asError(err) }, 'could not record the end of the replay');
    } finally {
      if (this.leaseHeld) await store.releaseLease(this.status.id, this.deps.owner).catch(() => undefined);
    }
    if (state === 'failed') log.error({ job: this.status.id, err: this.failure }, 'replay failed');
    else log.info({ job: this.status.id, state }, 'replay ended');
    return this.current();
  }

  private async acquireLease(): Promise<void> {
    const ttl = this.deps.leaseTtlMs ?? 10_000;
    const deadline = Date.now() + ttl + 2000;
    // A process killed while running the job holds the lease until it expires.
    while (!(await this.deps.store.lease(this.status.id, this.deps.owner, ttl))) {
      if (Date.now() > deadline) throw new ReplayBusyError(`replay ${this.status.id} is being run by another process`);
      if (this.stopRequest !== undefined) throw new ReplayBusyError(`replay ${this.status.id} was stopped while waiting for its lease`);
      await new Promise((r) => setTimeout(r, 250));
    }
    this.leaseHeld = true;
  }

  private async renewLease(): Promise<void> {
    if (!(await this.deps.store.lease(this.status.id, this.deps.owner, this.deps.leaseTtlMs ?? 10_000))) {
      throw new ReplayBusyError(`replay ${this.status.id}: the lease was lost to another process`);
    }
  }

  private async saveCheckpoint(): Promise<void> {
    const skip: Record<string, [number, number][]> = {};
    for (const [u, set] of this.skip) if (set.size > 0) skip[String(u)] = toRuns(set);
    const progress = this.progress();
    this.checkpoint = {
      run: this.status.runs,
      next: [...this.next],
      skip,
      marks: this.marks,
      counts: { predictions: progress.predictions, deadLetters: progress.deadLetters, alreadyWritten: progress.alreadyWritten },
      updatedAt: new Date().toISOString(),
    };
    await this.deps.store.saveCheckpoint(this.status.id, this.checkpoint);
  }

  private async persist(): Promise<void> {
    const s = this.current();
    await this.deps.store.save(s);
    this.deps.onStatus(s);
  }

  private progress(): ReplayProgress {
    const done = this.doneOffsets();
    const planned = this.plan.offsets;
    const rate = this.status.state === 'running' ? this.meter.rate() : 0;
    const predictions = this.base.predictions + this.pool.threads.reduce((s, t) => s + t.counts.predictions, 0);
    const deadLetters = this.base.deadLetters + this.pool.threads.reduce((s, t) => s + t.counts.deadLetters, 0);
    return {
      plannedOffsets: planned,
      doneOffsets: done,
      ratio: ratio(done, planned),
      predictions,
      deadLetters,
      alreadyWritten: this.base.alreadyWritten + this.alreadyWritten,
      ratePerSecond: rate,
      etaSeconds: this.status.state === 'running' ? etaSeconds(planned - done, rate) : done >= planned ? 0 : null,
      updatedAt: new Date().toISOString(),
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
