import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { contractsFor } from '../../src/registry/contracts.js';
import { FakeRegistry } from '../codec/fake-registry.js';

const record = (fields: object[]) => ({ type: 'record', name: 'Features', namespace: 'com.acme', fields });
const reads = { features: ['x'] };

describe('the service contracts from its settings', () => {
  it('checks each routed topic under <topic>-value by default, and under the subject set, {topic} standing for each topic', async () => {
    const registry = new FakeRegistry();
    registry.add(record([{ name: 'x', type: 'double' }]), 'AVRO', { subject: 'events-value' });
    registry.add(record([{ name: 'x', type: 'string' }]), 'AVRO', { subject: 'events-com.acme.Features' });
    const byTopic = contractsFor(loadConfig({}, { modelName: 'model', featuresTopic: 'events' }), registry)!;
    expect(await byTopic.check('model', reads)).toEqual([{ topic: 'events', subject: 'events-value', version: 1, mismatches: [], notes: [] }]);
    const topicRecord = contractsFor(loadConfig({}, { modelName: 'model', featuresTopic: 'events', inputSchemaSubject: '{topic}-com.acme.Features' }), registry)!;
    expect((await topicRecord.check('model', reads))[0]!.mismatches).toEqual(['field "x" (input "input", float32) is a string in the schema; the input needs a number']);
    expect(await byTopic.check('another-model', reads)).toEqual([]);
    expect(contractsFor(loadConfig({}, { schemaContracts: 'off' }), registry)).toBeUndefined();
  });

  it('skips the check with a note when the registry is away and events can be read without it; with Confluent events it is an error to retry', async () => {
    const registry = new FakeRegistry();
    registry.failWith = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8081'), { status: 400 });
    const auto = contractsFor(loadConfig({}, { modelName: 'model', featuresTopic: 'events', inputFormat: 'auto' }), registry)!;
    expect((await auto.check('model', reads))[0]!.notes[0]).toMatch(/^the schema registry cannot be reached .*: not checked$/);
    const confluent = contractsFor(loadConfig({}, { modelName: 'model', featuresTopic: 'events', inputFormat: 'confluent' }), registry)!;
    await expect(confluent.check('model', reads)).rejects.toMatchObject({ canRetry: true });
  });
});
