import { describe, expect, it } from 'vitest';
import { confluentSchemaSource } from '../../src/codec/index.js';
import { typedClassifier } from '../../src/modelgen/typed.js';
import { schemaContracts } from '../../src/registry/index.js';
import { TOP_LEVEL } from '../../src/scoring/feature-paths.js';
import { runCli } from '../support/child.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { envFor, testConfig } from '../support/harness.js';
import { ADMIN_TOKEN, TEST_TOKENS, apiCaller, startService } from '../support/service.js';

// Schema contracts against the real registry (Apicurio's Confluent API), Redis and the service's
// admin API and CLI: a model whose inputs the topic's schema can fill is accepted; one it cannot
// is refused with each mismatch named and the refusal audited; an override goes ahead, audited.

const cleanups = cleanupAfterEach();

/** Avro events for the typed model: `good` fills every input; the other breaks three of them. */
function featuresSchema(good: boolean): string {
  const fields = [
    { name: 'a', type: 'double' },
    { name: 'b', type: 'int' },
    { name: 'ratio', type: 'double' },
    { name: 'count', type: good ? 'long' : 'double' },
    { name: 'small', type: 'int' },
    { name: 'flag', type: good ? 'boolean' : 'string' },
    ...(good ? [{ name: 'country', type: { type: 'enum', name: 'Country', symbols: ['de', 'fr', 'us'] } }] : []),
  ];
  return JSON.stringify({ type: 'record', name: 'Features', namespace: 'test', fields });
}

describe('schema contracts against the real registry', () => {
  it('accepts a model the topic schema fits, refuses one it does not (audited), and lets an override through (audited)', async () => {
    const config = testConfig({ apiTokens: TEST_TOKENS, modelRefreshMs: 60_000 });
    const subject = `${config.featuresTopic}-value`;
    const registry = confluentSchemaSource(config);
    await registry.register({ type: 'AVRO', schema: featuresSchema(true), references: [] }, subject);
    const { url } = await startService(config, cleanups);
    const api = apiCaller(url);
    const call = (method: string, path: string, body: object) => api(method, path, ADMIN_TOKEN, body);
    const name = config.modelName;
    const model = typedClassifier();
    const upload = { onnx: Buffer.from(model.bytes).toString('base64'), inputs: model.inputs };

    expect((await call('POST', `/api/v1/models/${name}/versions`, upload)).status).toBe(201);
    const fits = await call('PUT', `/api/v1/models/${name}/aliases/production`, { version: '1' });
    expect(fits.status).toBe(200);
    expect(fits.json.contracts).toEqual([{ topic: config.featuresTopic, subject, version: 1, mismatches: [], notes: [] }]);

    // The schema evolves into one the model cannot read: its latest version is what counts.
    await registry.register({ type: 'AVRO', schema: featuresSchema(false), references: [] }, subject);
    const refused = await call('PUT', `/api/v1/models/${name}/aliases/canary`, { version: '1' });
    expect(refused.status).toBe(409);
    expect(refused.json.error).toBe('MODEL_CONTRACT');
    expect(refused.json.message).toContain(`subject "${subject}" version 2`);
    expect(refused.json.message).toContain('field "count" (input "count", int64) is a number in the schema; the input needs an integer');
    expect(refused.json.message).toContain('field "flag" (input "flag", bool) is a string in the schema; the input needs a boolean');
    expect(refused.json.message).toContain('field "country" (input "country", string) is not in the schema');
    const uploadRefused = await call('POST', `/api/v1/models/${name}/versions`, upload);
    expect(uploadRefused.status).toBe(409);

    const aliases = async () => (await (await fetch(`${url}/api/v1/models/${name}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { aliases: object; versions: unknown[] };
    expect(await aliases()).toMatchObject({ aliases: { production: '1' }, versions: [{}] });

    // The CLI refuses the same way (exit 2, the reason), and goes ahead with --override.
    const cli = runCli(['model', 'promote', '--version', '1', '--alias', 'canary'], envFor(config));
    expect(await cli.exited, cli.output()).toBe(2);
    expect(cli.output()).toMatch(/does not fit the schema .* field "count"/);
    const forced = runCli(['model', 'promote', '--version', '1', '--alias', 'canary', '--override', 'the producer fix ships today'], envFor(config));
    expect(await forced.exited, forced.output()).toBe(0);
    const uploaded = await call('POST', `/api/v1/models/${name}/versions`, { ...upload, override: 'retraining on v2 is under way' });
    expect(uploaded.status).toBe(201);
    expect(await aliases()).toMatchObject({ aliases: { production: '1', canary: '1' }, versions: [{}, {}] });

    const audit = (await (await fetch(`${url}/api/v1/audit?model=${name}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { action: string; detail?: string; version?: string; alias?: string }[];
    const refusals = audit.filter((e) => e.action === 'refused' && e.detail?.includes('does not fit the schema') === true);
    expect(refusals).toHaveLength(3); // the API promotion, the API upload, the CLI promotion
    const overrides = audit.filter((e) => e.action === 'contract-override');
    expect(overrides.map((e) => [e.version, e.alias, e.detail?.split(' of: ')[0]])).toEqual([
      ['2', undefined, 'override "retraining on v2 is under way"'],
      ['1', 'canary', 'override "the producer fix ships today"'],
    ]);
    expect(overrides[0]!.detail).toContain('field "count"');
  });

  it('reads Protobuf and JSON Schema subjects of the real registry, and skips a topic without a subject', async () => {
    const config = testConfig();
    const registry = confluentSchemaSource(config);
    const protoTopic = `${config.featuresTopic}-proto`;
    const jsonTopic = `${config.featuresTopic}-json`;
    await registry.register(
      {
        type: 'PROTOBUF',
        schema: 'syntax = "proto3";\npackage test;\nmessage Features { double a = 1; int32 b = 2; double ratio = 3; int64 count = 4; int32 small = 5; bool flag = 6; string country = 7; }\n',
        references: [],
      },
      `${protoTopic}-value`,
    );
    const jsonSchema = { type: 'object', required: ['a'], properties: { a: { type: 'number' }, b: { type: 'number' }, ratio: { type: 'number' }, count: { type: 'integer' }, small: { type: 'integer' }, flag: { type: 'boolean' } } };
    await registry.register({ type: 'JSON', schema: JSON.stringify(jsonSchema), references: [] }, `${jsonTopic}-value`);
    const missingTopic = `${config.featuresTopic}-none`;
    const checker = schemaContracts(registry, {
      topicsOf: () => [protoTopic, jsonTopic, missingTopic],
      subjectOf: (t) => `${t}-value`,
      location: TOP_LEVEL,
      registryRequired: true,
    });
    const model = typedClassifier();
    const inputs = [
      { name: 'num', type: 'float32' as const, shape: ['N', 2], fields: ['a', 'b'] },
      { name: 'count', type: 'int64' as const, shape: ['N', 1], fields: ['count'] },
      { name: 'country', type: 'string' as const, shape: ['N', 1], fields: ['country'] },
    ];
    const [proto, json, none] = await checker.check('m', { features: model.features, inputs });
    expect(proto).toMatchObject({ subject: `${protoTopic}-value`, version: 1, mismatches: [], notes: [] });
    expect(json).toMatchObject({
      version: 1,
      mismatches: ['field "country" (input "country", string) is not in the schema'],
      notes: ['field "b" (input "num", float32) may be absent or null: such events are dead-lettered', 'field "count" (input "count", int64) may be absent or null: such events are dead-lettered'],
    });
    expect(none).toEqual({ topic: missingTopic, subject: `${missingTopic}-value`, mismatches: [], notes: [`subject "${missingTopic}-value" is not in the schema registry: not checked`] });
  });
});
