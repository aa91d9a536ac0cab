import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { AvroType, SchemaSource } from './types.js';

/** The schema registry adapter: @kafkajs/confluent-schema-registry behind the narrow `SchemaSource`. */
export function confluentSchemaSource(url: string): SchemaSource {
  const registry = new SchemaRegistry({ host: url, clientId: 'kscore', retry: { retries: 2 } });
  return {
    async getSchema(id) {
      return (await registry.getSchema(id)) as unknown as AvroType;
    },
    async register(schema, subject) {
      const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
      return id;
    },
  };
}
