import type { Logger } from 'pino';
import { ModelError, ServiceError, asError, errorMessage } from '../errors.js';
import type { ModelArtifact, ModelSource, RegistrySubscriber } from '../registry/index.js';
import type { LiveModel, Scorer } from './types.js';

export type ScorerLoader = (artifact: ModelArtifact) => Promise<Scorer>;

/** Which versions score the next batch. Immutable: a change makes a new plan. */
export interface ServingPlan {
  /** Scores every event not routed to the canary. */
  readonly primary: LiveModel;
  /** Scores the events whose key falls in `share`. */
  readonly canary?: { readonly model: LiveModel; readonly alias: string; readonly share: number };
  /** Scores the same events as the primary, into the shadow topic. */
  readonly shadow?: LiveModel;
}

/** What the pipeline needs: a plan per batch, held until the batch is done. */
export interface ModelProvider {
  /** The plan for the next batch, or undefined while no model serves. Pair with `release`. */
  acquire(): ServingPlan | undefined;
  release(plan: ServingPlan): void;
}

/** A provider that always serves one model (replay pins a version this way). */
export function fixedModel(model: LiveModel): ModelProvider {
  const plan: ServingPlan = { primary: model };
  return { acquire: () => plan, release: () => undefined };
}

export interface ModelManagerEvents {
  swapped?(from: LiveModel | undefined, to: LiveModel): void;
  planChanged?(plan: ServingPlan, roles: { primary: string; shadow: string | undefined }): void;
  loadFailed?(name: string, version: string, err: unknown): void;
}

export interface ModelRoles {
  /** Alias whose version scores (e.g. production). */
  primary: string;
  /** Alias scored in shadow when set in the registry; undefined turns shadowing off. */
  shadow?: string | undefined;
}

export type ModelState =
  | { status: 'waiting'; reason: string }
  | { status: 'serving'; model: LiveModel }
  | { status: 'failed'; reason: string; model?: LiveModel };

interface Loaded {
  live: LiveModel;
  leases: number;
  retired: boolean;
}

/**
 * Keeps the versions the registry's routing names loaded, and switches between them. `refresh()`
 * reads the routing (primary alias, canary split, shadow alias); a version not loaded yet is loaded
 * and warmed off the scoring path, then a new plan is published: the next batch uses it while
 * batches in flight finish with theirs, and a version no plan uses is released after its last
 * batch. A version that fails to load is reported and leaves the current plan serving; it is not
 * tried again until the routing names another version (or, for a retryable failure, at the next
 * refresh). Refreshes run on a timer (the reconcile) and at once when the registry announces a
 * change on pub/sub.
 */
export class ModelManager implements ModelProvider {
  private plan: ServingPlan | undefined;
  private readonly loaded = new Map<string, Loaded>();
  private readonly failed = new Map<string, string>();
  private state: ModelState = { status: 'waiting', reason: 'not loaded yet' };
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readyWaiters: ((m: LiveModel) => void)[] = [];
  private readonly roles: ModelRoles;
  /** A retry scheduled after a failure a retry can fix (Redis away), and how many came before it. */
  private retryTimer: NodeJS.Timeout | undefined;
  private retries = 0;

  constructor(
    private readonly source: ModelSource,
    readonly name: string,
    roles: ModelRoles | string,
    private readonly load: ScorerLoader,
    private readonly log: Logger,
    private readonly events: ModelManagerEvents = {},
  ) {
    this.roles = typeof roles === 'string' ? { primary: roles } : roles;
  }

  current(): LiveModel | undefined {
    return this.plan?.primary;
  }

  currentPlan(): ServingPlan | undefined {
    return this.plan;
  }

  acquire(): ServingPlan | undefined {
    const plan = this.plan;
    if (plan === undefined) return undefined;
    for (const m of modelsOf(plan)) this.entry(m).leases++;
    return plan;
  }

  release(plan: ServingPlan): void {
    for (const m of modelsOf(plan)) {
      const e = this.entry(m);
      e.leases--;
      this.maybeUnload(e);
    }
  }

  status(): ModelState {
    return this.state;
  }

  /** Resolves with the first model that serves. */
  ready(): Promise<LiveModel> {
    if (this.plan !== undefined) return Promise.resolve(this.plan.primary);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Refreshes now and then every `intervalMs`; with a subscriber, also whenever a change is announced. */
  start(intervalMs: number, subscription?: { subscriber: RegistrySubscriber; channel: string }): Promise<void> {
    if (subscription !== undefined) {
      subscription.subscriber.on('message', (channel, message) => {
        if (channel !== subscription.channel) return;
        try {
          if ((JSON.parse(message) as { model?: string }).model !== this.name) return;
        } catch {
          return;
        }
        void this.refresh();
      });
      void subscription.subscriber.subscribe(subscription.channel).catch((err: unknown) => {
        this.log.warn({ err: asError(err) }, 'cannot subscribe to registry changes; relying on the periodic refresh');
      });
    }
    const first = this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
    return first;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this.timer = undefined;
    this.retryTimer = undefined;
  }

  /**
   * Refreshes again soon after a failure a retry can fix (Redis unreachable or frozen while a
   * version or the routing is read): with backoff from 200 ms to 5 s, not only at the next
   * periodic refresh, so a promotion made during the outage serves within moments of its end.
   */
  private retrySoon(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = Math.min(5_000, 200 * 2 ** this.retries++) * (0.5 + Math.random());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.refresh();
    }, delay);
    this.retryTimer.unref();
  }

  /** Releases every loaded version (at shutdown, after the last batch); no refresh runs after it. */
  async releaseAll(): Promise<void> {
    // A refresh still loading a version sees `closed` when it finishes, releases what it loaded
    // and publishes nothing; shutdown does not wait for it.
    this.closed = true;
    this.stop();
    const all = [...this.loaded.values()];
    this.loaded.clear();
    this.plan = undefined;
    await Promise.all(all.map((e) => e.live.scorer.release().catch(() => undefined)));
  }

  /** Runs one refresh at a time; a request during a run makes one more run after it. */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.refreshing !== undefined) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        await this.doRefresh();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    let routing;
    try {
      routing = await this.source.routing(this.name);
    } catch (err) {
      this.log.warn({ err: asError(err) }, 'cannot read the model routing; will retry');
      this.retrySoon();
      return;
    }
    const { primary: primaryAlias, shadow: shadowAlias } = this.roles;
    const primaryVersion = routing.aliases[primaryAlias];
    if (primaryVersion === undefined) {
      if (this.plan === undefined) {
        this.state = { status: 'waiting', reason: `model ${this.name} has no version aliased ${primaryAlias}` };
      }
      return;
    }
    const old = this.plan;
    const primary = (await this.ensure(primaryVersion, 'primary')) ?? old?.primary;
    if (primary === undefined) return;
    if (primary.version === primaryVersion) {
      this.failed.delete(primaryVersion);
      this.state = { status: 'serving', model: primary };
      if (this.retryTimer === undefined) this.retries = 0;
    }

    let canary: ServingPlan['canary'];
    const split = routing.split;
    const canaryVersion = split !== undefined && split.share > 0 ? routing.aliases[split.alias] : undefined;
    if (split !== undefined && canaryVersion !== undefined && canaryVersion !== primary.version) {
      const model = await this.ensure(canaryVersion, 'canary');
      if (model !== undefined) canary = { model, alias: split.alias, share: Math.min(1, split.share) };
    }
    let shadow: LiveModel | undefined;
    const shadowVersion = shadowAlias === undefined ? undefined : routing.aliases[shadowAlias];
    // A shadow of the primary version itself would only score every event twice.
    if (shadowVersion !== undefined && shadowVersion !== primary.version) shadow = await this.ensure(shadowVersion, 'shadow');
    if (this.closed) return;

    const next: ServingPlan = { primary, ...(canary ? { canary } : {}), ...(shadow ? { shadow } : {}) };
    if (old !== undefined && samePlan(old, next)) return;
    this.plan = next;
    if (old?.primary !== primary) {
      this.log.info({ model: this.name, version: primary.version, previous: old?.primary.version }, 'model serving');
      this.events.swapped?.(old?.primary, primary);
    }
    if (old === undefined || !samePlan(old, next)) {
      this.log.info(
        { primary: primary.version, canary: canary && `${canary.model.version} (${canary.share})`, shadow: shadow?.version },
        'serving plan',
      );
      this.events.planChanged?.(next, { primary: primaryAlias, shadow: shadowAlias });
    }
    const inPlan = new Set(modelsOf(next));
    for (const e of this.loaded.values()) {
      if (!inPlan.has(e.live)) {
        e.retired = true;
        this.maybeUnload(e);
      }
    }
    for (const resolve of this.readyWaiters.splice(0)) resolve(primary);
  }

  /** The loaded model of `version`, loading it if needed; undefined when it cannot load. */
  private async ensure(version: string, role: 'primary' | 'canary' | 'shadow'): Promise<LiveModel | undefined> {
    const have = this.loaded.get(version);
    if (have !== undefined) {
      have.retired = false;
      return have.live;
    }
    if (this.failed.has(version)) return undefined;
    try {
      const artifact = await this.source.getVersion(this.name, version);
      if (artifact === undefined) {
        throw new ModelError('MODEL_VERSION_UNKNOWN', `the routing names version ${version}, which does not exist`);
      }
      const scorer = await this.load(artifact);
      if (this.closed) {
        // Shut down while this version was loading: it never serves.
        await scorer.release().catch(() => undefined);
        return undefined;
      }
      const live: LiveModel = { name: this.name, version, scorer, ...(artifact.meta.baseline ? { baseline: artifact.meta.baseline } : {}) };
      this.loaded.set(version, { live, leases: 0, retired: false });
      return live;
    } catch (err) {
      const retryable = err instanceof ServiceError && err.canRetry;
      const reason = `version ${version} of ${this.name} cannot serve: ${errorMessage(err)}`;
      // Only what a retry cannot fix (bad bytes, a sha256 mismatch, a failed self-test) marks the version failed.
      if (retryable) this.retrySoon();
      else this.failed.set(version, reason);
      this.log.error({ model: this.name, version, err: asError(err) }, 'model load failed');
      // Only the primary decides the state: a failed canary or shadow leaves the primary serving.
      if (role === 'primary') {
        const serving = this.plan?.primary;
        this.state = serving === undefined ? { status: 'failed', reason } : { status: 'failed', reason, model: serving };
      }
      this.events.loadFailed?.(this.name, version, err);
      return undefined;
    }
  }

  private entry(m: LiveModel): Loaded {
    const e = this.loaded.get(m.version);
    if (e !== undefined && e.live === m) return e;
    // A model already released by releaseAll() while a batch held it: nothing left to count.
    return { live: m, leases: 0, retired: false };
  }

  private maybeUnload(e: Loaded): void {
    if (!e.retired || e.leases > 0) return;
    if (this.loaded.get(e.live.version) === e) this.loaded.delete(e.live.version);
    this.log.info({ model: this.name, version: e.live.version }, 'model version released');
    void e.live.scorer.release().catch(() => undefined);
  }
}

function modelsOf(plan: ServingPlan): LiveModel[] {
  const out = [plan.primary];
  if (plan.canary !== undefined) out.push(plan.canary.model);
  if (plan.shadow !== undefined && !out.includes(plan.shadow)) out.push(plan.shadow);
  return out;
}

function samePlan(a: ServingPlan, b: ServingPlan): boolean {
  return (
    a.primary === b.primary &&
    a.canary?.model === b.canary?.model &&
    a.canary?.share === b.canary?.share &&
    a.shadow === b.shadow
  );
}
