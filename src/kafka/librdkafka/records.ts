import type { HeaderValue, Headers, KafkaRecord } from '../types.js';
import type { NativeHeader, NativeMessage } from './native.js';

/** Consumed messages as the port's records (offsets and timestamps as strings, headers as one object). */
export function toRecords(messages: readonly NativeMessage[]): KafkaRecord[] {
  const out = new Array<KafkaRecord>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const key = m.key === undefined || m.key === null ? null : typeof m.key === 'string' ? Buffer.from(m.key) : m.key;
    const record: { key: Buffer | null; value: Buffer | null; offset: string; timestamp: string; headers?: Headers } = {
      key,
      value: m.value,
      offset: String(m.offset),
      timestamp: String(m.timestamp ?? -1),
    };
    if (m.headers !== undefined) record.headers = headersOf(m.headers);
    out[i] = record;
  }
  return out;
}

/** The binding's header list (one single-key object each, order and duplicates kept) as one object; repeated keys become arrays. */
export function headersOf(list: readonly NativeHeader[]): Headers {
  const headers: Record<string, HeaderValue> = {};
  for (const one of list) {
    for (const k in one) {
      const v = one[k]!;
      const prev = headers[k];
      headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  }
  return headers;
}
