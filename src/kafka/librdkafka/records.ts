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

/** Keys whose last Buffer value is remembered, at most (dead letters carry their events' own header keys). */
const REMEMBERED_KEYS = 64;

/**
 * Headers as the binding takes them: one single-key object per value (it reads only an object's
 * first key, and never changes it). The object made for a Buffer value is kept and given again
 * while the same Buffer comes under the same key: the provenance headers the sink builds once per
 * batch (model, version, source topic, partition) then cost no object per record.
 */
export class NativeHeaders {
  private readonly last = new Map<string, { value: Buffer; header: NativeHeader }>();

  of(headers: Headers | undefined): NativeHeader[] | undefined {
    if (headers === undefined) return undefined;
    let out: NativeHeader[] | undefined;
    for (const key in headers) {
      const v = headers[key];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const one of v) (out ??= []).push({ [key]: one });
      else (out ??= []).push(typeof v === 'string' ? { [key]: v } : this.header(key, v));
    }
    return out;
  }

  private header(key: string, value: Buffer): NativeHeader {
    const seen = this.last.get(key);
    if (seen !== undefined && seen.value === value) return seen.header;
    const header = { [key]: value };
    if (seen !== undefined || this.last.size < REMEMBERED_KEYS) this.last.set(key, { value, header });
    return header;
  }
}
