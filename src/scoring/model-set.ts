import type { RegistrySubscriber } from '../registry/index.js';
import type { ModelManager, ModelState, ServingPlan } from './model-manager.js';
import type { LiveModel } from './types.js';

/**
 * The model managers of a service, one per model it routes to (one without a routing table). Each
 * follows its own model's aliases in the registry, so models are promoted independently; the
 * service is ready when every model serves. The first manager is the service's first route's.
 */
export class ModelSet {
  private readonly byName: ReadonlyMap<string, ModelManager>;

  constructor(readonly managers: readonly [ModelManager, ...ModelManager[]]) {
    this.byName = new Map(managers.map((m) => [m.name, m]));
  }

  get(name: string): ModelManager | undefined {
    return this.byName.get(name);
  }

  /** The first model's version serving now (the one model of a single-model service). */
  current(): LiveModel | undefined {
    return this.managers[0].current();
  }

  currentPlan(): ServingPlan | undefined {
    return this.managers[0].currentPlan();
  }

  /** Serving when every model serves; otherwise the state of the first that does not, and why each does not. */
  status(): ModelState {
    if (this.managers.length === 1) return this.managers[0].status();
    const waiting: { name: string; state: Exclude<ModelState, { status: 'serving' }> }[] = [];
    for (const m of this.managers) {
      const state = m.status();
      if (state.status !== 'serving') waiting.push({ name: m.name, state });
    }
    const [first] = waiting;
    if (first === undefined) return this.managers[0].status();
    return { ...first.state, reason: waiting.map((w) => `model ${w.name}: ${w.state.reason}`).join('; ') };
  }

  /** Every model serving now, as `name vN`; undefined while one is not. */
  serving(): string | undefined {
    const names: string[] = [];
    for (const m of this.managers) {
      const live = m.current();
      if (live === undefined) return undefined;
      names.push(`${live.name} v${live.version}`);
    }
    return names.join(', ');
  }

  /** Resolves once every model serves, with the first model's version. */
  async ready(): Promise<LiveModel> {
    const [first] = await Promise.all(this.managers.map((m) => m.ready()));
    return first!;
  }

  async start(intervalMs: number, subscription?: { subscriber: RegistrySubscriber; channel: string }): Promise<void> {
    await Promise.all(this.managers.map((m) => m.start(intervalMs, subscription)));
  }

  stop(): void {
    for (const m of this.managers) m.stop();
  }

  async releaseAll(): Promise<void> {
    await Promise.all(this.managers.map((m) => m.releaseAll()));
  }
}
