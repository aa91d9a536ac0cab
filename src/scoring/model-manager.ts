import type { Logger } from 'pino';
import { ModelError, ServiceError, errorMessage } from '../errors.js';
import type { ModelArtifact, ModelSource } from '../registry/types.js';
import type { LiveModel, Scorer } from './types.js';

export type ScorerLoader = (artifact: ModelArtifact) => Promise<Scorer>;

export interface ModelManagerEvents {
  swapped?(from: LiveModel | undefined, to: LiveModel): void;
  loadFailed?(name: string, version: string, err: unknown): void;
}

export type ModelState =
  | { status: 'waiting'; reason: string }
  | { status: 'serving'; model: LiveModel }
  | { status: 'failed'; reason: string; model?: LiveModel };

/**
 * Keeps the version an alias points at loaded. `refresh()` reads the alias and, when it moved,
 * loads and warms the new version off the hot path and then switches: the scoring path picks up
 * the new model at its next batch. A version that fails to load leaves the current one serving and
 * is not tried again until the alias moves.
 */
export class ModelManager {
  private live: LiveModel | undefined;
  private failedVersion: string | undefined;
  private state: ModelState = { status: 'waiting', reason: 'not loaded yet' };
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private readyWaiters: ((m: LiveModel) => void)[] = [];

  constructor(
    private readonly source: ModelSource,
    private readonly name: string,
    private readonly alias: string,
    private readonly load: ScorerLoader,
    private readonly log: Logger,
    private readonly events: ModelManagerEvents = {},
  ) {}

  current(): LiveModel | undefined {
    return this.live;
  }

  status(): ModelState {
    return this.state;
  }

  /** Resolves with the first model that serves. */
  ready(): Promise<LiveModel> {
    if (this.live !== undefined) return Promise.resolve(this.live);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Refreshes now and then every `intervalMs`. */
  start(intervalMs: number): Promise<void> {
    const first = this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
    return first;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    let version: string | undefined;
    try {
      version = await this.source.resolveAlias(this.name, this.alias);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'cannot read the model alias; will retry');
      return;
    }
    if (version === undefined) {
      if (this.live === undefined) {
        this.setState({ status: 'waiting', reason: `model ${this.name} has no version aliased ${this.alias}` });
      }
      return;
    }
    if (version === this.live?.version) {
      // Back on the serving version (e.g. a rollback after a failed promotion).
      this.failedVersion = undefined;
      if (this.state.status !== 'serving') this.setState({ status: 'serving', model: this.live });
      return;
    }
    if (version === this.failedVersion) return;

    try {
      const artifact = await this.source.getVersion(this.name, version);
      if (artifact === undefined) {
        throw new ModelError('MODEL_VERSION_UNKNOWN', `alias ${this.alias} points at version ${version}, which does not exist`);
      }
      const scorer = await this.load(artifact);
      const next: LiveModel = { name: this.name, version, scorer };
      const previous = this.live;
      this.live = next;
      this.failedVersion = undefined;
      this.setState({ status: 'serving', model: next });
      this.log.info({ model: this.name, version, previous: previous?.version }, 'model serving');
      this.events.swapped?.(previous, next);
      for (const resolve of this.readyWaiters.splice(0)) resolve(next);
    } catch (err) {
      const retryable = err instanceof ServiceError && err.canRetry;
      if (!retryable) this.failedVersion = version;
      const reason = `version ${version} of ${this.name} cannot serve: ${errorMessage(err)}`;
      this.log.error({ model: this.name, version, err: errorMessage(err) }, 'model load failed');
      this.setState(this.live === undefined ? { status: 'failed', reason } : { status: 'failed', reason, model: this.live });
      this.events.loadFailed?.(this.name, version, err);
    }
  }

  private setState(state: ModelState): void {
    this.state = state;
  }
}
