import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { loadNative, type NativeModule } from '../../../src/kafka/librdkafka/native.js';

// native.ts types the binding by hand (the package is optional): where the addon is built, check
// the methods the adapter calls exist on the real classes.
const rd: NativeModule | undefined = await loadNative().catch((err: unknown) => {
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toMatch(/^KSCORE_KAFKA_CLIENT=librdkafka needs the native addon .* run scripts\/kafka-native \(it failed to load: /);
  return undefined;
});

describe.skipIf(rd === undefined)('the binding the adapter is typed against', () => {
  it('has the consumer, producer and admin methods used', () => {
    const consumer = rd!.KafkaConsumer.prototype as unknown as Record<string, unknown>;
    for (const m of ['connect', 'disconnect', 'subscribe', 'consume', 'setDefaultConsumeTimeout', 'setDefaultIsTimeoutOnlyForFirstMessage', 'assign', 'unassign', 'incrementalAssign', 'incrementalUnassign', 'rebalanceProtocol', 'assignmentLost', 'assignments', 'pause', 'resume', 'position', 'commitCb', 'queryWatermarkOffsets']) {
      expect(typeof consumer[m], m).toBe('function');
    }
    const producer = rd!.Producer.prototype as unknown as Record<string, unknown>;
    for (const m of ['connect', 'disconnect', 'produce', 'setPollInBackground', 'flush', 'initTransactions', 'beginTransaction', 'commitTransaction', 'abortTransaction', 'sendOffsetsToTransaction']) {
      expect(typeof producer[m], m).toBe('function');
    }
    expect(typeof rd!.AdminClient.create).toBe('function');
    expect(typeof rd!.AdminClient.createFrom).toBe('function');
    expect(rd!.OffsetSpec.EARLIEST).toBeDefined();
    expect(rd!.IsolationLevel.READ_UNCOMMITTED).toBe(0);
  });

  it('was built with TLS, SASL (SCRAM, OAUTHBEARER) and every codec', () => {
    for (const f of ['ssl', 'sasl_scram', 'sasl_oauthbearer', 'gzip', 'snappy', 'lz4', 'zstd']) expect(rd!.features).toContain(f);
  });
});
