import { Kafka, logLevel as KafkaLogLevel, type ITopicConfig, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

const TRANSIENT = /coordinator is not available|coordinator is loading|not the leader for that topic-partition|There is no leader for this topic-partition/i;

/** One kafkajs client whose log lines go to the service's structured logger. */
export function createKafka(options: { brokers: readonly string[]; clientId: string; logger: Logger }): Kafka {
  const log = options.logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: KafkaLogLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        // kafkajs logs these at ERROR while a coordinator starts, then retries and succeeds.
        const transient = typeof rest['error'] === 'string' && TRANSIENT.test(rest['error']);
        if (transient) log.debug(rest, message);
        else if (level <= KafkaLogLevel.ERROR) log.error(rest, message);
        else if (level === KafkaLogLevel.WARN) log.warn(rest, message);
        else log.debug(rest, message);
      },
  });
}

/** Creates the topics that are missing; existing topics are left as they are. */
export async function ensureTopics(kafka: Kafka, topics: readonly string[], numPartitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing: ITopicConfig[] = topics
      .filter((t) => !existing.has(t))
      .map((topic) => ({ topic, numPartitions, replicationFactor: -1 }));
    if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}
