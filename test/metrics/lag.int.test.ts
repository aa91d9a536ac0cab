import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import type { ScoringService } from '../../src/service/service.js';
import { eventually } from '../support/child.js';
import { collect, deleteTopics, produceEvents, testConfig, testLog } from '../support/harness.js';
import { register } from '../support/service.js';
import { ScoringService as Service } from '../../src/service/service.js';
import type { Config } from '../../src/config/index.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const cleanups = cleanupAfterEach();

/** Lag per partition as Kafka's own ConsumerGroupCommand reports it. */
async function kafkaToolLag(config: Config): Promise<Map<number, number>> {
  const { stdout } = await run(
    `${repo}/scripts/stack`,
    ['kafka-tool', 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', '--bootstrap-server', config.kafkaBrokers[0]!, '--describe', '--group', config.groupId],
    { maxBuffer: 16 << 20 },
  );
  const lags = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    if (cols[1] === config.featuresTopic && /^\d+$/.test(cols[2] ?? '')) lags.set(Number(cols[2]), Number(cols[5]));
  }
  return lags;
}

async function serviceLag(url: string, topic: string): Promise<Map<number, number>> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const lags = new Map<number, number>();
  for (const m of text.matchAll(/^kscore_consumer_lag\{topic="([^"]+)",partition="(\d+)"\} (\d+)$/gm)) {
    if (m[1] === topic) lags.set(Number(m[2]), Number(m[3]));
  }
  return lags;
}

async function start(config: Config): Promise<{ service: ScoringService; url: string }> {
  const service = await Service.create(config, testLog);
  const { httpUrl } = await service.start();
  return { service, url: httpUrl };
}

describe('consumer lag', () => {
  it("agrees with Kafka's ConsumerGroupCommand, and stays current while nothing is consumed", async () => {
    const config = testConfig({ lagIntervalMs: 300 });
    cleanups.push(() => deleteTopics(config));
    const model = logistic(8, 1);
    await register(config, model, 'production');

    // 1. The service keeps up: lag 0 everywhere, as the tool says.
    const first = await start(config);
    await produceEvents(config, { rate: 0, count: 2000, format: 'json', features: model.features });
    await collect(config, [config.predictionsTopic], (all) => all.length >= 2000);
    const idle = await eventually(async () => {
      const lags = await serviceLag(first.url, config.featuresTopic);
      return lags.size === config.topicPartitions && [...lags.values()].every((l) => l === 0) ? lags : undefined;
    }, 20_000, 'lag 0 on every partition');
    await first.service.close();
    const toolIdle = await kafkaToolLag(config);
    expect(toolIdle).toEqual(idle);

    // 2. Events arrive while no consumer runs (no model aliased "standby"): the gauge still moves.
    await produceEvents(config, { rate: 0, count: 1500, format: 'json', features: model.features, seed: 2 });
    const second = await start({ ...config, modelAlias: 'standby' });
    cleanups.push(() => second.service.close());
    const behind = await eventually(async () => {
      const lags = await serviceLag(second.url, config.featuresTopic);
      return [...lags.values()].reduce((a, b) => a + b, 0) === 1500 ? lags : undefined;
    }, 20_000, 'lag 1500');
    const tool = await kafkaToolLag(config);
    process.stderr.write(`lag: service ${JSON.stringify([...behind])}, ConsumerGroupCommand ${JSON.stringify([...tool])}\n`);
    expect(tool).toEqual(behind);
  });
});
