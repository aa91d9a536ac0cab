import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { routeOfModel, routeTable } from '../../src/config/routes.js';
import { ConfigError } from '../../src/errors.js';

const routes = (list: unknown): Record<string, string> => ({ KSCORE_ROUTES: JSON.stringify(list) });

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted a bad routing table');
}

describe('the routing table', () => {
  it('is the one route of the single-model settings when KSCORE_ROUTES is unset', () => {
    const table = routeTable(loadConfig({ KSCORE_FEATURES_TOPIC: 'in', KSCORE_PREDICTIONS_TOPIC: 'out', KSCORE_DEAD_LETTER_TOPIC: 'in.bad', KSCORE_MODEL_NAME: 'churn' }));
    expect(table.routes).toEqual([
      { index: 0, topic: 'in', model: 'churn', alias: 'production', shadowAlias: 'shadow', predictionsTopic: 'out', deadLetterTopic: 'in.bad', shadowTopic: 'out.shadow' },
    ]);
    expect(table.topics).toEqual([{ topic: 'in', routes: table.routes, unmatchedTopic: 'in.bad' }]);
    expect(table.models).toEqual([{ name: 'churn', alias: 'production', shadowAlias: 'shadow' }]);
  });

  it('fills in topics derived from the model name and the aliases of the single-model settings', () => {
    const config = loadConfig({
      KSCORE_MODEL_ALIAS: 'live',
      KSCORE_SHADOW_ALIAS: 'next',
      ...routes([
        { topic: 'payments', model: 'fraud' },
        { topic: 'signups', model: 'churn', alias: 'prod', shadowAlias: '', predictionsTopic: 'churn.scores' },
        { topic: 'events', header: 'event-type', value: 'click', model: 'ctr' },
        { topic: 'events', header: 'event-type', value: 'view', model: 'views', deadLetterTopic: 'events.dlq' },
      ]),
    });
    const table = routeTable(config);
    expect(table.routes.map((r) => [r.topic, r.model, r.alias, r.shadowAlias, r.predictionsTopic, r.deadLetterTopic, r.shadowTopic, r.match])).toEqual([
      ['payments', 'fraud', 'live', 'next', 'fraud.predictions', 'fraud.dlq', 'fraud.predictions.shadow', undefined],
      ['signups', 'churn', 'prod', undefined, 'churn.scores', 'churn.dlq', 'churn.scores.shadow', undefined],
      ['events', 'ctr', 'live', 'next', 'ctr.predictions', 'ctr.dlq', 'ctr.predictions.shadow', { by: 'header', name: 'event-type', value: 'click' }],
      ['events', 'views', 'live', 'next', 'views.predictions', 'events.dlq', 'views.predictions.shadow', { by: 'header', name: 'event-type', value: 'view' }],
    ]);
    expect(table.topics.map((t) => [t.topic, t.key, t.routes.length, t.unmatchedTopic])).toEqual([
      ['payments', undefined, 1, 'fraud.dlq'],
      ['signups', undefined, 1, 'churn.dlq'],
      ['events', { by: 'header', name: 'event-type' }, 2, 'events.dlq'],
    ]);
    expect(table.models.map((m) => m.name)).toEqual(['fraud', 'churn', 'ctr', 'views']);
    expect(routeOfModel(table, 'churn')?.topic).toBe('signups');
    expect(routeOfModel(table, 'nope')).toBeUndefined();
  });

  it('lets several routes lead to one model, and takes values given as numbers as text', () => {
    const table = routeTable(
      loadConfig(
        routes([
          { topic: 'a', model: 'm' },
          { topic: 'b', field: 'kind', value: 3, model: 'm' },
          { topic: 'b', field: 'kind', value: true, model: 'n' },
        ]),
      ),
    );
    expect(table.routes.map((r) => r.match?.value)).toEqual([undefined, '3', 'true']);
    expect(table.models.map((m) => m.name)).toEqual(['m', 'n']);
  });

  it('is read from KSCORE_ROUTES_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kscore-routes-'));
    const file = join(dir, 'routes.json');
    writeFileSync(file, `${JSON.stringify([{ topic: 'payments', model: 'fraud' }], null, 2)}\n`);
    expect(routeTable(loadConfig({ KSCORE_ROUTES_FILE: file })).routes[0]!.model).toBe('fraud');
    expect(problems({ KSCORE_ROUTES_FILE: join(dir, 'missing.json') })).toMatch(/KSCORE_ROUTES_FILE .*cannot be read/);
    expect(problems({ KSCORE_ROUTES_FILE: file, KSCORE_ROUTES: '[]' })).toMatch(/KSCORE_ROUTES and KSCORE_ROUTES_FILE are both set/);
  });

  it('is refused at start-up with a message naming each bad entry', () => {
    expect(problems({ KSCORE_ROUTES: '{"topic": ' })).toMatch(/^invalid configuration:\n {2}KSCORE_ROUTES: not JSON/);
    expect(problems({ KSCORE_ROUTES: '[]' })).toContain('KSCORE_ROUTES: must be a JSON array of routes');
    const message = problems(
      routes([
        { topic: 'ok', model: 'fine' },
        { topic: 'bad topic!', model: 'm' },
        { topic: 't', model: 'm', header: 'h' },
        { topic: 't', model: 'm', value: 'x' },
        { topic: 't', model: 'm', header: 'h', field: 'f', value: 'x' },
        { topic: 't', model: 'm', predictions: 'typo' },
      ]),
    );
    expect(message).toContain('KSCORE_ROUTES: [1] (topic "bad topic!", model "m"): "topic": may hold only');
    expect(message).toContain('KSCORE_ROUTES: [2] (topic "t", model "m", header "h"): "value": needed with "header"');
    expect(message).toContain('KSCORE_ROUTES: [3] (topic "t", model "m", value "x"): "value": needs a "header" or a "field"');
    expect(message).toContain('KSCORE_ROUTES: [4] (topic "t", model "m", header "h", field "f", value "x"): give "header" or "field", not both');
    expect(message).toMatch(/KSCORE_ROUTES: \[5\] \(topic "t", model "m"\): .*predictions/);
    expect(message).not.toContain('[0]');
  });

  it('refuses tables whose routes contradict each other', () => {
    const split = (value: string, model: string, extra: object = {}): object => ({ topic: 'events', header: 'type', value, model, ...extra });
    expect(problems(routes([{ topic: 'a', model: 'm' }, { topic: 'a', model: 'n' }]))).toContain(
      'KSCORE_ROUTES[1] (topic "a", model "n"): topic "a" already goes to model "m" (KSCORE_ROUTES[0] (topic "a", model "m"))',
    );
    expect(problems(routes([split('x', 'm'), { topic: 'events', field: 'kind', value: 'y', model: 'n' }]))).toContain('topic "events" is split by header "type"');
    expect(problems(routes([split('x', 'm'), { topic: 'events', model: 'n' }]))).toContain('topic "events" is split by header "type"');
    expect(problems(routes([split('x', 'm'), split('x', 'n')]))).toContain('KSCORE_ROUTES[1] (topic "events", model "n", header "type" = "x"): value "x" is taken by KSCORE_ROUTES[0]');
    expect(problems(routes([split('x', 'm'), split('y', 'm', { alias: 'canary' })]))).toContain('model "m" is routed with alias "canary" here and "production" in KSCORE_ROUTES[0]');
    // Topics keep one role: no source is an output, predictions never share a topic with dead letters.
    expect(problems(routes([{ topic: 'a', model: 'm' }, { topic: 'b', model: 'n', predictionsTopic: 'a' }]))).toContain(
      'KSCORE_ROUTES[1] (topic "b", model "n"): topic "a" would be its predictions topic, but it is the source topic of KSCORE_ROUTES[0]',
    );
    expect(problems(routes([{ topic: 'a', model: 'm', deadLetterTopic: 'm.predictions' }]))).toContain('topic "m.predictions" would be its dead-letter topic, but it is the predictions topic');
    expect(problems(routes([split('x', 'm'), { topic: 'events.dlq', model: 'n' }]))).toContain('the events of topic "events" that match no route: topic "events.dlq" would be its dead-letter topic, but it is the source topic');
  });

  it('is refused with schema-registry predictions (Avro, Protobuf, JSON Schema), which it does not write yet, naming both settings', () => {
    expect(problems({ ...routes([{ topic: 'payments', model: 'fraud' }]), KSCORE_OUTPUT_FORMAT: 'avro' })).toContain('KSCORE_ROUTES: predictions of a routing table are written as JSON; KSCORE_OUTPUT_FORMAT=avro is not supported with it yet');
    for (const format of ['protobuf', 'json-schema']) expect(problems({ ...routes([{ topic: 'payments', model: 'fraud' }]), KSCORE_OUTPUT_FORMAT: format })).toContain(`KSCORE_OUTPUT_FORMAT=${format} is not supported`);
  });
});
