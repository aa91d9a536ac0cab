import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ModelError } from '../../src/errors.js';
import { RedisModelStore, type RegistrySubscriber } from '../../src/registry/index.js';
import type { RegistryRedis } from '../../src/registry/redis-port.js';
import type { ModelArtifact, ModelSource, Routing, TrafficSplit } from '../../src/registry/types.js';
import { ModelManager, fixedModel, type ModelManagerEvents, type ModelRoles, type ServingPlan } from '../../src/scoring/model-manager.js';
import type { LiveModel, Scorer } from '../../src/scoring/types.js';

const NAME = 'fraud';
const ALIAS = 'production';
const log = pino({ level: 'silent' });

function artifact(version: string): ModelArtifact {
  return {
    meta: {
      name: NAME,
      version,
      sha256: `sha-${version}`,
      size: 3,
      createdAt: '2024-01-01T00:00:00.000Z',
      createdBy: 'test',
      description: '',
      features: ['a', 'b'],
      inputs: [{ name: 'input', type: 'float32', shape: ['N', 2], fields: ['a', 'b'] }],
      outputs: { score: 'score' },
      storage: { kind: 'inline' },
    },
    bytes: Buffer.from(`v${version}`),
  };
}

/**
 * An in-memory registry: `aliases` is the alias table, `split` the traffic split, versions 1..9
 * exist. `alias` reads and writes the production alias.
 */
class FakeSource implements ModelSource {
  aliases: Record<string, string> = { [ALIAS]: '1' };
  split: TrafficSplit | undefined;
  routingCalls = 0;
  routingGate: Promise<void> | undefined;
  routingError: Error | undefined;

  get alias(): string | undefined {
    return this.aliases[ALIAS];
  }

  set alias(version: string | undefined) {
    if (version === undefined) delete this.aliases[ALIAS];
    else this.aliases[ALIAS] = version;
  }

  async routing(name: string): Promise<Routing> {
    this.routingCalls++;
    if (this.routingGate !== undefined) await this.routingGate;
    if (this.routingError !== undefined) throw this.routingError;
    if (name !== NAME) return { aliases: {} };
    return { aliases: { ...this.aliases }, ...(this.split === undefined ? {} : { split: { ...this.split } }) };
  }

  getVersion(name: string, version: string): Promise<ModelArtifact | undefined> {
    return Promise.resolve(name === NAME && /^[1-9]$/.test(version) ? artifact(version) : undefined);
  }
}

/** Scorers answer their version number; `released` lists the versions whose scorer was released. */
function fakeScorer(version: string, released: string[]): Scorer {
  return {
    spec: { features: ['a', 'b'], inputName: 'input', inputShape: ['N', 2], outputs: { score: 'score' } },
    score: (_input, rows) => Promise.resolve({ rows, score: new Float32Array(rows).fill(Number(version)), classes: 0 }),
    run: () => Promise.reject(new Error('not used')),
    release: () => {
      released.push(version);
      return Promise.resolve();
    },
  };
}

function setup(roles: ModelRoles | string = ALIAS) {
  const source = new FakeSource();
  /** Versions whose load throws the given error. */
  const failures = new Map<string, Error>();
  const released: string[] = [];
  const load = vi.fn((a: ModelArtifact) => {
    const err = failures.get(a.meta.version);
    return err === undefined ? Promise.resolve(fakeScorer(a.meta.version, released)) : Promise.reject(err);
  });
  const events = {
    swapped: vi.fn<NonNullable<ModelManagerEvents['swapped']>>(),
    planChanged: vi.fn<NonNullable<ModelManagerEvents['planChanged']>>(),
    loadFailed: vi.fn<NonNullable<ModelManagerEvents['loadFailed']>>(),
  };
  const manager = new ModelManager(source, NAME, roles, load, log, events);
  const loadedVersions = () => load.mock.calls.map(([a]) => a.meta.version);
  /** Versions of the plan's models, by role. */
  const planVersions = (plan: ServingPlan | undefined = manager.currentPlan()) =>
    plan === undefined
      ? undefined
      : {
          primary: plan.primary.version,
          canary: plan.canary && { version: plan.canary.model.version, alias: plan.canary.alias, share: plan.canary.share },
          shadow: plan.shadow?.version,
        };
  return { source, failures, released, load, loadedVersions, events, manager, planVersions };
}

/** A pub/sub subscriber whose 'message' listeners the test invokes by hand. */
function fakeSubscriber() {
  const listeners: ((channel: string, message: string) => void)[] = [];
  const subscribed: string[] = [];
  const subscriber: RegistrySubscriber = {
    subscribe: (channel) => {
      subscribed.push(channel);
      return Promise.resolve(1);
    },
    on: (_event, listener) => {
      listeners.push(listener);
      return subscriber;
    },
  };
  const publish = (channel: string, message: string) => {
    for (const l of listeners) l(channel, message);
  };
  return { subscriber, subscribed, listeners, publish };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('ModelManager', () => {
  it('loads the version the alias points at', async () => {
    const { manager, loadedVersions, load } = setup();
    expect(manager.current()).toBeUndefined();
    expect(manager.acquire()).toBeUndefined();
    expect(manager.status()).toEqual({ status: 'waiting', reason: 'not loaded yet' });

    await manager.refresh();
    expect(loadedVersions()).toEqual(['1']);
    expect(load.mock.calls[0]![0].bytes.toString()).toBe('v1');
    const live = manager.current();
    expect(live).toMatchObject({ name: NAME, version: '1' });
    expect(manager.status()).toEqual({ status: 'serving', model: live });
    expect((await live!.scorer.score(new Float32Array(2), 1)).score).toEqual(Float32Array.from([1]));
    expect(manager.currentPlan()).toEqual({ primary: live });
  });

  it('does not reload when the alias has not moved', async () => {
    const { manager, load, events } = setup();
    await manager.refresh();
    const live = manager.current();
    const plan = manager.currentPlan();
    await manager.refresh();
    await manager.refresh();
    expect(load).toHaveBeenCalledTimes(1);
    expect(manager.current()).toBe(live);
    expect(manager.currentPlan()).toBe(plan); // unchanged routing keeps the same plan object
    expect(events.swapped).toHaveBeenCalledTimes(1);
    expect(events.planChanged).toHaveBeenCalledTimes(1);
  });

  it('loads the new version when the alias moves and reports the swap', async () => {
    const { manager, source, loadedVersions, events, released } = setup();
    await manager.refresh();
    const v1 = manager.current()!;
    expect(events.swapped).toHaveBeenLastCalledWith(undefined, v1);

    source.alias = '2';
    await manager.refresh();
    const v2 = manager.current()!;
    expect(v2.version).toBe('2');
    expect(loadedVersions()).toEqual(['1', '2']);
    expect(events.swapped).toHaveBeenLastCalledWith(v1, v2);
    expect(manager.status()).toEqual({ status: 'serving', model: v2 });
    expect(released).toEqual(['1']); // no batch held v1: released at the swap
  });

  it('keeps the old model after a non-retryable load failure and does not retry until the alias moves', async () => {
    const { manager, source, failures, loadedVersions, events } = setup();
    await manager.refresh();
    const v1 = manager.current()!;

    const err = new ModelError('MODEL_UNLOADABLE', 'onnxruntime cannot load the model');
    failures.set('2', err);
    source.alias = '2';
    await manager.refresh();
    expect(manager.current()).toBe(v1);
    expect(events.loadFailed).toHaveBeenCalledExactlyOnceWith(NAME, '2', err);
    const state = manager.status();
    expect(state).toMatchObject({ status: 'failed', model: v1 });
    expect(state.status === 'failed' && state.reason).toMatch(/version 2 of fraud cannot serve: onnxruntime cannot load/);

    await manager.refresh();
    await manager.refresh();
    expect(loadedVersions()).toEqual(['1', '2']); // not retried
    expect(events.loadFailed).toHaveBeenCalledTimes(1);

    source.alias = '3';
    await manager.refresh();
    expect(manager.current()?.version).toBe('3');
    expect(events.swapped).toHaveBeenLastCalledWith(v1, manager.current());
  });

  it('treats an error that is not a ServiceError as non-retryable', async () => {
    const { manager, failures, loadedVersions } = setup();
    failures.set('1', new Error('bad bytes'));
    await manager.refresh();
    await manager.refresh();
    expect(loadedVersions()).toEqual(['1']);
    expect(manager.current()).toBeUndefined();
    expect(manager.acquire()).toBeUndefined();
    expect(manager.status()).toMatchObject({ status: 'failed' });
    expect(manager.status()).not.toHaveProperty('model');
  });

  it('retries a retryable load failure on the next refresh', async () => {
    const { manager, failures, loadedVersions, events } = setup();
    failures.set('1', new ModelError('MODEL_FETCH', 'redis timed out', { canRetry: true }));
    await manager.refresh();
    expect(manager.current()).toBeUndefined();
    expect(events.loadFailed).toHaveBeenCalledTimes(1);

    failures.delete('1');
    await manager.refresh();
    expect(loadedVersions()).toEqual(['1', '1']);
    expect(manager.current()?.version).toBe('1');
    expect(manager.status().status).toBe('serving');
  });

  it('fails (without retrying) when the alias points at a version that does not exist', async () => {
    const { manager, source, load, events } = setup();
    source.alias = '404';
    await manager.refresh();
    await manager.refresh();
    expect(load).not.toHaveBeenCalled();
    expect(events.loadFailed).toHaveBeenCalledTimes(1);
    expect((events.loadFailed.mock.calls[0]![2] as ModelError).code).toBe('MODEL_VERSION_UNKNOWN');
    expect(manager.status()).toMatchObject({ status: 'failed' });
  });

  it('keeps waiting, saying why, while the alias is not set', async () => {
    const { manager, source, load } = setup();
    source.alias = undefined;
    await manager.refresh();
    expect(load).not.toHaveBeenCalled();
    expect(manager.current()).toBeUndefined();
    const state = manager.status();
    expect(state.status).toBe('waiting');
    expect(state.status === 'waiting' && state.reason).toBe('model fraud has no version aliased production');
  });

  it('keeps serving when the alias disappears after a load', async () => {
    const { manager, source } = setup();
    await manager.refresh();
    const v1 = manager.current();
    source.alias = undefined;
    await manager.refresh();
    expect(manager.current()).toBe(v1);
    expect(manager.status()).toEqual({ status: 'serving', model: v1 });
  });

  it('survives a registry that cannot be read and tries again on the next refresh', async () => {
    const { manager, source } = setup();
    source.routingError = new Error('ECONNREFUSED');
    await expect(manager.refresh()).resolves.toBeUndefined();
    expect(manager.status().status).toBe('waiting');
    source.routingError = undefined;
    await manager.refresh();
    expect(manager.current()?.version).toBe('1');
  });

  it('ready() resolves with the first model once it loads, and at once afterwards', async () => {
    const { manager, source } = setup();
    source.alias = undefined;
    let readyWith: LiveModel | undefined;
    const ready = manager.ready().then((m) => (readyWith = m));
    await manager.refresh();
    await tick();
    expect(readyWith).toBeUndefined();

    source.alias = '1';
    await manager.refresh();
    await ready;
    expect(readyWith).toBe(manager.current());
    await expect(manager.ready()).resolves.toBe(manager.current());
  });

  it('shares one run between concurrent refresh() calls, running once more for calls made during it', async () => {
    const { manager, source, load } = setup();
    let open!: () => void;
    source.routingGate = new Promise<void>((resolve) => (open = resolve));
    const a = manager.refresh();
    const b = manager.refresh();
    const c = manager.refresh();
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(source.routingCalls).toBe(1);
    open();
    await Promise.all([a, b, c]);
    // The calls made during the run coalesce into one more run, not one each.
    expect(source.routingCalls).toBe(2);
    expect(load).toHaveBeenCalledTimes(1);

    source.routingGate = undefined;
    await manager.refresh(); // a later call starts a new run
    expect(source.routingCalls).toBe(3);
  });

  it('sees a change made while a refresh was running, through the run asked for during it', async () => {
    const { manager, source } = setup();
    await manager.refresh();
    let open!: () => void;
    source.routingGate = new Promise<void>((resolve) => (open = resolve));
    const first = manager.refresh(); // reads the routing before the change...
    source.alias = '2';
    const second = manager.refresh(); // ...the change is announced during the run
    source.routingGate = undefined;
    open();
    await Promise.all([first, second]);
    expect(manager.current()?.version).toBe('2');
  });

  it('says serving again once the alias is rolled back to the live version after a failed load', async () => {
    const { manager, source, failures } = setup();
    await manager.refresh();
    failures.set('2', new ModelError('MODEL_UNLOADABLE', 'broken'));
    source.alias = '2';
    await manager.refresh();
    expect(manager.status().status).toBe('failed');

    source.alias = '1';
    await manager.refresh();
    expect(manager.status()).toEqual({ status: 'serving', model: manager.current() });
  });

  describe('serving plan', () => {
    it('adds a canary with the split share when the split alias names another version', async () => {
      const { manager, source, loadedVersions, planVersions, events } = setup();
      source.aliases['canary'] = '2';
      source.split = { alias: 'canary', share: 0.25 };
      await manager.refresh();
      expect(loadedVersions()).toEqual(['1', '2']);
      expect(planVersions()).toEqual({ primary: '1', canary: { version: '2', alias: 'canary', share: 0.25 }, shadow: undefined });
      expect(manager.current()?.version).toBe('1'); // the primary is still what current() names
      expect(events.planChanged).toHaveBeenCalledExactlyOnceWith(manager.currentPlan(), { primary: ALIAS, shadow: undefined });

      // A new share is a new plan with the same loaded versions.
      source.split = { alias: 'canary', share: 0.5 };
      await manager.refresh();
      expect(loadedVersions()).toEqual(['1', '2']);
      expect(planVersions()?.canary).toEqual({ version: '2', alias: 'canary', share: 0.5 });
      expect(events.planChanged).toHaveBeenCalledTimes(2);
      expect(events.swapped).toHaveBeenCalledTimes(1); // the primary did not change
    });

    it('caps a canary share above 1 at 1', async () => {
      const { manager, source, planVersions } = setup();
      source.aliases['canary'] = '2';
      source.split = { alias: 'canary', share: 3 };
      await manager.refresh();
      expect(planVersions()?.canary?.share).toBe(1);
    });

    it('has no canary when the split alias names the primary version, is unset, or has share 0', async () => {
      const { manager, source, loadedVersions, planVersions } = setup();
      source.aliases['canary'] = '1';
      source.split = { alias: 'canary', share: 0.5 };
      await manager.refresh();
      expect(planVersions()).toEqual({ primary: '1', canary: undefined, shadow: undefined });
      expect(manager.currentPlan()).not.toHaveProperty('canary');

      source.split = { alias: 'nobody', share: 0.5 };
      await manager.refresh();
      expect(manager.currentPlan()).not.toHaveProperty('canary');

      source.aliases['canary'] = '2';
      source.split = { alias: 'canary', share: 0 };
      await manager.refresh();
      expect(manager.currentPlan()).not.toHaveProperty('canary');
      expect(loadedVersions()).toEqual(['1']); // nothing loaded for a canary that takes no traffic
    });

    it('drops the canary and releases its version when the split ends', async () => {
      const { manager, source, planVersions, released } = setup();
      source.aliases['canary'] = '2';
      source.split = { alias: 'canary', share: 0.1 };
      await manager.refresh();
      expect(planVersions()?.canary?.version).toBe('2');

      source.split = undefined;
      await manager.refresh();
      expect(manager.currentPlan()).not.toHaveProperty('canary');
      expect(released).toEqual(['2']);
    });

    it('adds a shadow from the shadow role, and drops it when the shadow alias goes', async () => {
      const { manager, source, planVersions, events, released } = setup({ primary: ALIAS, shadow: 'shadow' });
      source.aliases['shadow'] = '3';
      await manager.refresh();
      expect(planVersions()).toEqual({ primary: '1', canary: undefined, shadow: '3' });
      expect(events.planChanged).toHaveBeenLastCalledWith(manager.currentPlan(), { primary: ALIAS, shadow: 'shadow' });

      delete source.aliases['shadow'];
      await manager.refresh();
      expect(manager.currentPlan()).not.toHaveProperty('shadow');
      expect(events.planChanged).toHaveBeenCalledTimes(2);
      expect(released).toEqual(['3']);
    });

    it('ignores a shadow alias in the registry when no shadow role is configured', async () => {
      const { manager, source, loadedVersions } = setup(ALIAS);
      source.aliases['shadow'] = '3';
      await manager.refresh();
      expect(manager.currentPlan()).not.toHaveProperty('shadow');
      expect(loadedVersions()).toEqual(['1']);
    });

    it('does not shadow the primary version with itself, and counts its leases once', async () => {
      const { manager, source, loadedVersions, released } = setup({ primary: ALIAS, shadow: 'shadow' });
      source.aliases['shadow'] = '1';
      await manager.refresh();
      const plan = manager.currentPlan()!;
      expect(plan.shadow).toBeUndefined();
      expect(loadedVersions()).toEqual(['1']);

      const held = manager.acquire()!;
      source.alias = '2';
      delete source.aliases['shadow'];
      await manager.refresh();
      expect(released).toEqual([]);
      manager.release(held);
      expect(released).toEqual(['1']); // one release balances the one acquire
    });

    it('keeps the primary serving and leaves out a canary whose version fails to load', async () => {
      const { manager, source, failures, events, planVersions, loadedVersions } = setup();
      await manager.refresh();
      const v1 = manager.current()!;
      const err = new ModelError('MODEL_UNLOADABLE', 'broken canary');
      failures.set('2', err);
      source.aliases['canary'] = '2';
      source.split = { alias: 'canary', share: 0.5 };
      await manager.refresh();
      expect(manager.current()).toBe(v1);
      expect(planVersions()).toEqual({ primary: '1', canary: undefined, shadow: undefined });
      expect(events.loadFailed).toHaveBeenCalledExactlyOnceWith(NAME, '2', err);
      expect(manager.acquire()?.primary).toBe(v1);

      await manager.refresh();
      expect(loadedVersions()).toEqual(['1', '2']); // not retried
    });

    it('keeps the primary serving and leaves out a shadow whose version fails to load', async () => {
      const { manager, source, failures, events, planVersions } = setup({ primary: ALIAS, shadow: 'shadow' });
      failures.set('3', new ModelError('MODEL_UNLOADABLE', 'broken shadow'));
      source.aliases['shadow'] = '3';
      await manager.refresh();
      expect(planVersions()).toEqual({ primary: '1', canary: undefined, shadow: undefined });
      expect(manager.current()?.version).toBe('1');
      expect(events.loadFailed).toHaveBeenCalledExactlyOnceWith(NAME, '3', expect.any(ModelError));

      // Once the shadow alias names a loadable version, the shadow joins the plan.
      source.aliases['shadow'] = '4';
      await manager.refresh();
      expect(planVersions()?.shadow).toBe('4');
    });

    it('promotes the canary version to primary without loading it again', async () => {
      const { manager, source, loadedVersions, planVersions, released, events } = setup();
      source.aliases['canary'] = '2';
      source.split = { alias: 'canary', share: 0.2 };
      await manager.refresh();
      const canary = manager.currentPlan()!.canary!.model;

      source.alias = '2'; // promoted: the canary alias now names the primary version
      await manager.refresh();
      expect(planVersions()).toEqual({ primary: '2', canary: undefined, shadow: undefined });
      expect(manager.current()).toBe(canary);
      expect(loadedVersions()).toEqual(['1', '2']);
      expect(released).toEqual(['1']);
      expect(events.swapped).toHaveBeenLastCalledWith(expect.objectContaining({ version: '1' }), canary);
    });
  });

  describe('leases', () => {
    it('releases a retired version only after the last batch holding it releases its plan', async () => {
      const { manager, source, released } = setup();
      await manager.refresh();
      const a = manager.acquire()!;
      const b = manager.acquire()!;
      expect(a).toBe(b);
      expect(a.primary.version).toBe('1');

      source.alias = '2';
      await manager.refresh();
      expect(manager.acquire()!.primary.version).toBe('2'); // new batches get the new plan
      expect(released).toEqual([]); // two batches still hold v1

      manager.release(a);
      await tick();
      expect(released).toEqual([]);
      manager.release(b);
      expect(released).toEqual(['1']);
    });

    it('does not release a version that is acquired and released while it still serves', async () => {
      const { manager, released } = setup();
      await manager.refresh();
      for (let i = 0; i < 3; i++) manager.release(manager.acquire()!);
      await tick();
      expect(released).toEqual([]);
      expect(manager.current()?.version).toBe('1');
    });

    it('keeps a retired version that comes back (rollback) before its last batch ends, without reloading it', async () => {
      const { manager, source, released, loadedVersions } = setup();
      await manager.refresh();
      const v1 = manager.current();
      const held = manager.acquire()!;
      source.alias = '2';
      await manager.refresh();
      source.alias = '1'; // rolled back while a batch still holds v1
      await manager.refresh();
      expect(manager.current()).toBe(v1);
      expect(loadedVersions()).toEqual(['1', '2']);
      expect(released).toEqual(['2']);

      manager.release(held);
      expect(released).toEqual(['2']); // v1 serves again: not released
    });

    it('counts leases for canary and shadow versions too', async () => {
      const { manager, source, released } = setup({ primary: ALIAS, shadow: 'shadow' });
      source.aliases['canary'] = '2';
      source.aliases['shadow'] = '3';
      source.split = { alias: 'canary', share: 0.5 };
      await manager.refresh();
      const held = manager.acquire()!;
      expect(held.canary?.model.version).toBe('2');
      expect(held.shadow?.version).toBe('3');

      source.split = undefined;
      delete source.aliases['shadow'];
      await manager.refresh();
      expect(released).toEqual([]);
      manager.release(held);
      expect([...released].sort()).toEqual(['2', '3']);
    });

    it('releaseAll() releases every loaded version, and a late release() of a held plan is harmless', async () => {
      const { manager, source, released } = setup({ primary: ALIAS, shadow: 'shadow' });
      source.aliases['shadow'] = '3';
      await manager.refresh();
      const held = manager.acquire()!;
      await manager.releaseAll();
      expect([...released].sort()).toEqual(['1', '3']);
      expect(manager.current()).toBeUndefined();
      expect(manager.acquire()).toBeUndefined();
      manager.release(held);
      expect([...released].sort()).toEqual(['1', '3']); // not released twice
    });
    it('releaseAll() leaves nothing loaded even when a refresh was loading a version', async () => {
      const { manager, load, released } = setup();
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const realLoad = load.getMockImplementation()!;
      load.mockImplementation(async (a) => {
        await gate;
        return realLoad(a);
      });
      const refreshing = manager.refresh();
      await vi.waitFor(() => expect(load).toHaveBeenCalledTimes(1));
      await manager.releaseAll();
      open();
      await refreshing;
      expect(manager.current()).toBeUndefined();
      expect(released).toEqual(['1']);
    });
  });

  describe('start() with pub/sub', () => {
    it('refreshes when its model is announced on the channel, not for other models or channels', async () => {
      const { manager, source } = setup();
      const sub = fakeSubscriber();
      await manager.start(60_000, { subscriber: sub.subscriber, channel: 'kscore:events' });
      try {
        expect(sub.subscribed).toEqual(['kscore:events']);
        expect(source.routingCalls).toBe(1);
        expect(manager.current()?.version).toBe('1');

        source.alias = '2';
        sub.publish('kscore:events', JSON.stringify({ model: 'other' }));
        sub.publish('other:channel', JSON.stringify({ model: NAME }));
        sub.publish('kscore:events', 'not json');
        await tick();
        expect(source.routingCalls).toBe(1);
        expect(manager.current()?.version).toBe('1');

        sub.publish('kscore:events', JSON.stringify({ model: NAME }));
        await vi.waitFor(() => expect(manager.current()?.version).toBe('2'));
        expect(source.routingCalls).toBe(2);
      } finally {
        manager.stop();
      }
    });

    it('still refreshes on the timer when subscribing fails', async () => {
      const { manager, source } = setup();
      const subscriber: RegistrySubscriber = {
        subscribe: () => Promise.reject(new Error('no pub/sub')),
        on: () => undefined,
      };
      await manager.start(20, { subscriber, channel: 'kscore:events' });
      try {
        source.alias = '2';
        await vi.waitFor(() => expect(manager.current()?.version).toBe('2'));
      } finally {
        manager.stop();
      }
    });

    it('stop() ends the periodic refresh', async () => {
      const { manager, source } = setup();
      await manager.start(10);
      manager.stop();
      const calls = source.routingCalls;
      await new Promise((r) => setTimeout(r, 50));
      expect(source.routingCalls).toBe(calls);
    });
  });
});

describe('fixedModel', () => {
  it('always gives the same plan with the pinned model as primary, and never releases it', async () => {
    const released: string[] = [];
    const live: LiveModel = { name: NAME, version: '7', scorer: fakeScorer('7', released) };
    const provider = fixedModel(live);
    const plan = provider.acquire()!;
    expect(plan).toEqual({ primary: live });
    expect(provider.acquire()).toBe(plan);
    provider.release(plan);
    provider.release(plan);
    await tick();
    expect(released).toEqual([]);
  });
});

describe('ModelManager over the Redis store, when Redis fails as ioredis reports it', () => {
  /** Just the registry's reads, in memory; `down` makes every call fail like a lost ioredis connection. */
  function memoryRedis() {
    const hashes = new Map<string, Map<string, string | Buffer>>();
    const state = { down: false, calls: 0 };
    const guard = <T>(v: T): Promise<T> => {
      state.calls++;
      return state.down ? Promise.reject(new Error('Connection is closed.')) : Promise.resolve(v);
    };
    const hash = (k: string) => hashes.get(k) ?? new Map<string, string | Buffer>();
    const redis = {
      hget: (k: string, f: string) => guard((hash(k).get(f) as string | undefined) ?? null),
      hgetBuffer: (k: string, f: string) => guard((hash(k).get(f) as Buffer | undefined) ?? null),
      hgetall: (k: string) => guard(Object.fromEntries([...hash(k)].map(([f, v]) => [f, String(v)]))),
      set: (k: string, f: string, v: string | Buffer) => hashes.set(k, hash(k).set(f, v)),
    };
    return { redis, state };
  }

  it('retries a version it could not fetch within moments, without waiting for the next refresh or another promotion', async () => {
    const { redis, state } = memoryRedis();
    const bytes = Buffer.from('model-bytes');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    for (const v of ['1', '2']) {
      redis.set(`kscore:model:${NAME}:v:${v}`, 'meta', JSON.stringify({ ...artifact(v).meta, sha256 }));
      redis.set(`kscore:model:${NAME}:v:${v}`, 'bytes', bytes);
    }
    redis.set(`kscore:model:${NAME}:aliases`, ALIAS, '1');
    const store = new RedisModelStore(redis as unknown as RegistryRedis);
    const released: string[] = [];
    const manager = new ModelManager(store, NAME, ALIAS, (a) => Promise.resolve(fakeScorer(a.meta.version, released)), log);
    await manager.start(3_600_000); // no periodic refresh during the test
    expect(manager.current()?.version).toBe('1');

    // A promotion is announced while Redis is away: the fetch of v2 fails, v1 keeps serving.
    redis.set(`kscore:model:${NAME}:aliases`, ALIAS, '2');
    state.down = true;
    await manager.refresh();
    expect(manager.current()?.version).toBe('1');
    expect(manager.status()).toMatchObject({ status: 'serving' });
    // Redis is back: the retry the manager scheduled itself loads v2.
    const callsWhileDown = state.calls;
    state.down = false;
    await vi.waitFor(() => expect(manager.current()?.version).toBe('2'), { timeout: 5_000 });
    expect(state.calls).toBeGreaterThan(callsWhileDown);
    manager.stop();
  });

  it('still marks a version failed for what a retry cannot fix (bytes that do not match their sha256)', async () => {
    const { redis } = memoryRedis();
    redis.set(`kscore:model:${NAME}:v:1`, 'meta', JSON.stringify({ ...artifact('1').meta, sha256: 'deadbeef' }));
    redis.set(`kscore:model:${NAME}:v:1`, 'bytes', Buffer.from('x'));
    redis.set(`kscore:model:${NAME}:aliases`, ALIAS, '1');
    const load = vi.fn();
    const manager = new ModelManager(new RedisModelStore(redis as unknown as RegistryRedis), NAME, ALIAS, load, log);
    await manager.refresh();
    await manager.refresh();
    expect(load).not.toHaveBeenCalled();
    expect(manager.status()).toMatchObject({ status: 'failed', reason: expect.stringContaining('sha256') });
  });
});
