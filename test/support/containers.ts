import { GenericContainer, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';

export interface StartedServers {
  servers: { kafkaBrokers: string; schemaRegistryUrl: string; redisUrl: string };
  stop: () => Promise<void>;
}

/** A cheap probe: with no engine, testcontainers rejects within milliseconds. */
export async function dockerAvailable(): Promise<boolean> {
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

const KAFKA_IMAGE = 'apache/kafka:4.1.1';
const APICURIO_IMAGE = 'apicurio/apicurio-registry:3.0.9';
const REDIS_IMAGE = 'redis:7.4';

/**
 * The same three servers as scripts/stack, as containers. Kafka must advertise an address the
 * host can reach before it starts, so its port is bound to the same number on the host.
 */
export async function startContainers(): Promise<StartedServers> {
  const started: StartedTestContainer[] = [];
  try {
    const kafkaPort = 39092;
    const kafka = await new GenericContainer(KAFKA_IMAGE)
      .withExposedPorts({ container: kafkaPort, host: kafkaPort })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: `PLAINTEXT://:${kafkaPort},CONTROLLER://:9093`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        // Tests write events stamped days or months back: the default 7-day retention would delete them mid-test.
        KAFKA_LOG_RETENTION_MS: '-1',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start();
    started.push(kafka);
    const registry = await new GenericContainer(APICURIO_IMAGE)
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
      .start();
    started.push(registry);
    const redis = await new GenericContainer(REDIS_IMAGE).withExposedPorts(6379).start();
    started.push(redis);
    return {
      servers: {
        kafkaBrokers: `127.0.0.1:${kafkaPort}`,
        schemaRegistryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
        redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      },
      stop: async () => {
        await Promise.all(started.map((c) => c.stop()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((c) => c.stop().catch(() => undefined)));
    throw err;
  }
}
