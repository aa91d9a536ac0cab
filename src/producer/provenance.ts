import type { HeaderValue, Headers } from '../kafka/index.js';

/** Header names the service writes. */
export const HEADERS = {
  model: 'kscore-model',
  version: 'kscore-model-version',
  sourceTopic: 'kscore-source-topic',
  sourcePartition: 'kscore-source-partition',
  sourceOffset: 'kscore-source-offset',
  /** The compact form: `<model>:<version>@<topic>:<partition>:<offset>` in one header. */
  provenance: 'kscore-provenance',
  dlqReason: 'kscore-dlq-reason',
  dlqDetail: 'kscore-dlq-detail',
  dlqTruncated: 'kscore-dlq-truncated',
  dlqOriginalSize: 'kscore-dlq-original-size',
  /** The replay job that wrote a prediction (absent online). */
  replayJob: 'kscore-replay-job',
} as const;

/** Kafka Connect's dead-letter headers, which tools that read Connect's dead letters understand. */
export const CONNECT_HEADERS = {
  topic: '__connect.errors.topic',
  partition: '__connect.errors.partition',
  offset: '__connect.errors.offset',
  exceptionClass: '__connect.errors.exception.class.name',
  exceptionMessage: '__connect.errors.exception.message',
} as const;

/**
 * How a prediction says where it came from: `headers`, five headers (model, version, source
 * topic, partition, offset: the documented contract), or `compact`, the same in one header,
 * cheaper to write.
 */
export type ProvenanceForm = 'headers' | 'compact';

/** Where a written record came from, read back from its headers (either form). */
export interface Provenance {
  model: string | undefined;
  version: string | undefined;
  topic: string;
  partition: number;
  offset: number;
}

export function headerText(v: HeaderValue): string | undefined {
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return one === undefined ? undefined : one.toString();
}

/** Reads either form; undefined when the record carries no provenance. */
export function readProvenance(h: Readonly<Headers>): Provenance | undefined {
  const compact = headerText(h[HEADERS.provenance]);
  if (compact !== undefined) {
    const m = /^(?:([^:@]*):([^:@]*))?@(.+):(\d+):(\d+)$/.exec(compact);
    if (m === null) return undefined;
    return { model: m[1] || undefined, version: m[2] || undefined, topic: m[3]!, partition: Number(m[4]), offset: Number(m[5]) };
  }
  const topic = headerText(h[HEADERS.sourceTopic]);
  const partition = headerText(h[HEADERS.sourcePartition]);
  const offset = headerText(h[HEADERS.sourceOffset]);
  if (topic === undefined || partition === undefined || offset === undefined) return undefined;
  return { model: headerText(h[HEADERS.model]), version: headerText(h[HEADERS.version]), topic, partition: Number(partition), offset: Number(offset) };
}
