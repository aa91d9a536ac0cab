import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ModelError } from '../../src/errors.js';
import type { ModelArtifact, ModelSource } from '../../src/registry/types.js';
import { ModelManager, type ModelManagerEvents } from '../../src/scoring/model-manager.js';
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
      description: '',
      features: ['a', 'b'],
      outputs: { score: 'score' },
    },
    bytes: Buffer.from(`v${version}`),
  };
}

/** An in-memory registry: `alias` is what the alias points at, versions 1..9 exist. */
class FakeSource implements ModelSource {
  alias: string | undefined = '1';
  resolveCalls = 0;
  aliasGate: Promise<void> | undefined;
  aliasError: Error | undefined;

  async resolveAlias(name: string, alias: string): Promise<string | undefined> {
    this.resolveCalls++;
    if (this.aliasGate !== undefined) await this.aliasGate;
    if (this.aliasError !== undefined) throw this.aliasError;
    return name === NAME && alias === ALIAS ? this.alias : undefined;
  }

  getVersion(name: string, version: string): Promise<ModelArtifact | undefined> {
    return Promise.resolve(name === NAME && /^[1-9]$/.test(version) ? artifact(version) : undefined);
  }
}

function fakeScorer(version: string): Scorer {
  return {
    spec: { features: ['a', 'b'], inputName: 'input', outputs: { score: 'score' } },
    score: (_input, rows) => Promise.resolve({ rows, score: new Float32Array(rows).fill(Number(version)), classes: 0 }),
    release: () => Promise.resolve(),
  };
}

function setup() {
  const source = new FakeSource();
  /** Versions whose load throws the given error. */
  const failures = new Map<string, Error>();
  const load = vi.fn((a: ModelArtifact) => {
    const err = failures.get(a.meta.version);
    return err === undefined ? Promise.resolve(fakeScorer(a.meta.version)) : Promise.reject(err);
  });
  const events = {
    swapped: vi.fn<NonNullable<ModelManagerEvents['swapped']>>(),
    loadFailed: vi.fn<NonNullable<ModelManagerEvents['loadFailed']>>(),
  };
  const manager = new ModelManager(source, NAME, ALIAS, load, log, events);
  const loadedVersions = () => load.mock.calls.map(([a]) => a.meta.version);
  return { source, failures, load, loadedVersions, events, manager };
}

describe('ModelManager', () => {
  it('loads the version the alias points at', async () => {
    const { manager, loadedVersions, load } = setup();
    expect(manager.current()).toBeUndefined();
    expect(manager.status()).toEqual({ status: 'waiting', reason: 'not loaded yet' });

    await manager.refresh();
    expect(loadedVersions()).toEqual(['1']);
    expect(load.mock.calls[0]![0].bytes.toString()).toBe('v1');
    const live = manager.current();
    expect(live).toMatchObject({ name: NAME, version: '1' });
    expect(manager.status()).toEqual({ status: 'serving', model: live });
    expect((await live!.scorer.score(new Float32Array(2), 1)).score).toEqual(Float32Array.from([1]));
  });

  it('does not reload when the alias has not moved', async () => {
    const { manager, load, events } = setup();
    await manager.refresh();
    const live = manager.current();
    await manager.refresh();
    await manager.refresh();
    expect(load).toHaveBeenCalledTimes(1);
    expect(manager.current()).toBe(live);
    expect(events.swapped).toHaveBeenCalledTimes(1);
  });

  it('loads the new version when the alias moves and reports the swap', async () => {
    const { manager, source, loadedVersions, events } = setup();
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
    source.aliasError = new Error('ECONNREFUSED');
    await expect(manager.refresh()).resolves.toBeUndefined();
    expect(manager.status().status).toBe('waiting');
    source.aliasError = undefined;
    await manager.refresh();
    expect(manager.current()?.version).toBe('1');
  });

  it('ready() resolves with the first model once it loads, and at once afterwards', async () => {
    const { manager, source } = setup();
    source.alias = undefined;
    let readyWith: LiveModel | undefined;
    const ready = manager.ready().then((m) => (readyWith = m));
    await manager.refresh();
    await new Promise((r) => setTimeout(r, 5));
    expect(readyWith).toBeUndefined();

    source.alias = '1';
    await manager.refresh();
    await ready;
    expect(readyWith).toBe(manager.current());
    await expect(manager.ready()).resolves.toBe(manager.current());
  });

  it('shares one run between concurrent refresh() calls', async () => {
    const { manager, source, load } = setup();
    let open!: () => void;
    source.aliasGate = new Promise<void>((resolve) => (open = resolve));
    const a = manager.refresh();
    const b = manager.refresh();
    expect(b).toBe(a);
    open();
    await Promise.all([a, b]);
    expect(source.resolveCalls).toBe(1);
    expect(load).toHaveBeenCalledTimes(1);

    source.aliasGate = undefined;
    await manager.refresh(); // a later call starts a new run
    expect(source.resolveCalls).toBe(2);
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
});
