import { describe, expect, it } from 'vitest';
import type { ModelManager, ModelState } from '../../src/scoring/model-manager.js';
import { ModelSet } from '../../src/scoring/model-set.js';

const manager = (name: string, state: ModelState) => ({ name, status: () => state }) as unknown as ModelManager;
const live = { name: 'a', version: '1' } as never;

describe('a set of models', () => {
  it('says why every model that does not serve does not, in route order', () => {
    const set = new ModelSet([
      manager('a', { status: 'serving', model: live }),
      manager('b', { status: 'waiting', reason: 'alias production is not set' }),
      manager('c', { status: 'failed', reason: 'version 3 cannot be loaded' }),
    ]);
    expect(set.status()).toEqual({ status: 'waiting', reason: 'model b: alias production is not set; model c: version 3 cannot be loaded' });
  });

  it('is serving when every model serves, and a single model speaks for itself', () => {
    expect(new ModelSet([manager('a', { status: 'serving', model: live }), manager('b', { status: 'serving', model: live })]).status().status).toBe('serving');
    expect(new ModelSet([manager('a', { status: 'waiting', reason: 'no alias' })]).status()).toEqual({ status: 'waiting', reason: 'no alias' });
  });
});
