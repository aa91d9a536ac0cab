import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import type { OutputMessage, Sink } from '../pipeline/types.js';

/**
 * Publishes predictions and dead letters. `send` resolves only when every message is acknowledged
 * by all in-sync replicas (acks=-1), which is what lets the consumer commit after it.
 */
export class KafkaSink implements Sink {
  private constructor(private readonly producer: Producer) {}

  static async connect(kafka: Kafka): Promise<KafkaSink> {
    const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 10, initialRetryTime: 100 } });
    await producer.connect();
    return new KafkaSink(producer);
  }

  async send(messages: readonly OutputMessage[]): Promise<void> {
    if (messages.length === 0) return;
    // Group by topic, keeping order. An output message is a kafkajs Message already (its extra
    // `topic` field is ignored), so nothing is copied; usually all go to one topic.
    const byTopic = new Map<string, Message[]>();
    for (const m of messages) {
      let list = byTopic.get(m.topic);
      if (list === undefined) byTopic.set(m.topic, (list = []));
      list.push(m);
    }
    const topicMessages: TopicMessages[] = [];
    for (const [topic, list] of byTopic) topicMessages.push({ topic, messages: list });
    await this.producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None });
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
