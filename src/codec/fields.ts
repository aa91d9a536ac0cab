import avro from 'avsc';
import type protobuf from 'protobufjs';
import { loadProtoFiles } from './protobuf-files.js';
import type { NamedSchema } from './references.js';
import type { SchemaText } from './types.js';

/**
 * What a decoded event field holds, as the codecs hand it to the scoring path: a number (an
 * integer where the schema says so), a string, a boolean, an object of named fields, or something
 * else (arrays, bytes, wrapped unions). `unknown`: the schema does not say (an open JSON object,
 * a combinator), so nothing can be concluded.
 */
export type FieldKind = 'number' | 'integer' | 'string' | 'boolean' | 'object' | 'other' | 'unknown';

export interface FieldShape {
  readonly kind: FieldKind;
  /** The field may be absent or null in an event. */
  readonly optional: boolean;
  /** An object's fields (by name). */
  readonly fields?: ReadonlyMap<string, FieldShape>;
}

const UNKNOWN: FieldShape = { kind: 'unknown', optional: true };

/** The shape of the events a schema describes (the top-level record, message or object). */
export function eventShape(main: SchemaText, deps: readonly NamedSchema[]): FieldShape {
  switch (main.type) {
    case 'AVRO':
      return avroShape(main, deps);
    case 'PROTOBUF':
      return protobufShape(main, deps);
    case 'JSON':
      return jsonSchemaShape(JSON.parse(main.schema) as unknown);
  }
}

function avroShape(main: SchemaText, deps: readonly NamedSchema[]): FieldShape {
  const registry: Record<string, avro.Type> = {};
  for (const d of deps) if (d.type === 'AVRO') avro.Type.forSchema(JSON.parse(d.schema) as avro.Schema, { registry });
  return ofAvro(avro.Type.forSchema(JSON.parse(main.schema) as avro.Schema, { registry }), false);
}

const AVRO_KINDS: Readonly<Record<string, FieldKind>> = { int: 'integer', long: 'integer', float: 'number', double: 'number', string: 'string', enum: 'string', boolean: 'boolean' };

function ofAvro(type: avro.Type, optional: boolean): FieldShape {
  const name = type.typeName;
  if (name === 'record' || name === 'error') {
    const fields = new Map((type as avro.types.RecordType).fields.map((f) => [f.name, ofAvro(f.type, false)]));
    return { kind: 'object', optional, fields };
  }
  // avsc decodes a union without ambiguity (["null", "double"]) as the plain value; others wrapped.
  if (name === 'union:unwrapped') {
    const branches = (type as avro.types.UnwrappedUnionType).types;
    const present = branches.filter((t) => t.typeName !== 'null');
    const nullable = present.length < branches.length;
    if (present.length === 1) return ofAvro(present[0]!, optional || nullable);
    const kinds = new Set(present.map((t) => ofAvro(t, false).kind));
    const kind = kinds.size === 1 ? [...kinds][0]! : kinds.size === 2 && kinds.has('integer') && kinds.has('number') ? 'number' : 'other';
    return { kind, optional: optional || nullable };
  }
  return { kind: AVRO_KINDS[name] ?? 'other', optional: optional || name === 'null' };
}

const PROTO_INTEGERS = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);

/** The file's first message, as Confluent's serializers write by default; nested messages as objects. */
function protobufShape(main: SchemaText, deps: readonly NamedSchema[]): FieldShape {
  const { root, messages } = loadProtoFiles(main, deps);
  const first = messages[0];
  if (first === undefined) throw new Error('the schema has no message');
  root.resolveAll();
  return ofMessage(root.lookupType(first.fullName), false, 0);
}

function ofMessage(type: protobuf.Type, optional: boolean, depth: number): FieldShape {
  if (depth > 16) return UNKNOWN; // a recursive message: deep enough for any feature path
  const fields = new Map<string, FieldShape>();
  for (const f of type.fieldsArray) fields.set(f.name, ofProtoField(f, depth));
  return { kind: 'object', optional, fields };
}

function ofProtoField(f: protobuf.Field, depth: number): FieldShape {
  if (f.repeated || f.map) return { kind: 'other', optional: false };
  // proto3 scalars are decoded with their zero value when left out; fields with presence are absent.
  const optional = f.hasPresence || f.partOf !== null;
  const resolved = f.resolvedType;
  if (resolved !== null && 'fieldsArray' in resolved) return ofMessage(resolved, true, depth + 1);
  if (resolved !== null) return { kind: 'integer', optional }; // an enum: decoded as its number
  if (f.type === 'double' || f.type === 'float') return { kind: 'number', optional };
  if (PROTO_INTEGERS.has(f.type)) return { kind: 'integer', optional };
  if (f.type === 'bool') return { kind: 'boolean', optional };
  if (f.type === 'string') return { kind: 'string', optional };
  return { kind: 'other', optional };
}

type JsonNode = Record<string, unknown>;

/** A JSON Schema's shape; local `$ref`s (`#/definitions/…`, `#/$defs/…`) are followed. */
function jsonSchemaShape(root: unknown): FieldShape {
  const at = (node: unknown, optional: boolean, depth: number): FieldShape => {
    if (node === true || node === undefined) return UNKNOWN;
    if (node === null || typeof node !== 'object' || depth > 32) return UNKNOWN;
    const n = node as JsonNode;
    if (typeof n['$ref'] === 'string') return at(resolveRef(root, n['$ref']), optional, depth + 1);
    const types = typeof n['type'] === 'string' ? [n['type']] : Array.isArray(n['type']) ? (n['type'] as unknown[]) : undefined;
    const values = Array.isArray(n['enum']) ? (n['enum'] as unknown[]) : 'const' in n ? [n['const']] : undefined;
    const present = (types ?? values?.map(jsonTypeOf))?.filter((t) => t !== 'null');
    const nullable = present !== undefined && present.length < (types ?? values!).length;
    if (present === undefined || present.length === 0) return { kind: 'unknown', optional: true };
    const kinds = new Set(present.map((t) => JSON_KINDS[String(t)] ?? 'other'));
    const kind: FieldKind = kinds.size === 1 ? [...kinds][0]! : kinds.size === 2 && kinds.has('integer') && kinds.has('number') ? 'number' : 'other';
    if (kind !== 'object') return { kind, optional: optional || nullable };
    const props = n['properties'];
    if (props === null || typeof props !== 'object') return UNKNOWN; // a free-form object
    const required = new Set(Array.isArray(n['required']) ? (n['required'] as unknown[]) : []);
    const fields = new Map(Object.entries(props as JsonNode).map(([k, v]) => [k, at(v, !required.has(k), depth + 1)]));
    return { kind: 'object', optional: optional || nullable, fields };
  };
  return at(root, false, 0);
}

const JSON_KINDS: Readonly<Record<string, FieldKind>> = { number: 'number', integer: 'integer', string: 'string', boolean: 'boolean', object: 'object' };

function jsonTypeOf(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v === 'object' ? (Array.isArray(v) ? 'array' : 'object') : typeof v;
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined; // another document: not followed
  let node = root;
  for (const part of ref.slice(1).split('/').filter((p) => p !== '')) {
    const key = decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~');
    node = node !== null && typeof node === 'object' ? (node as JsonNode)[key] : undefined;
  }
  return node;
}

/**
 * The shape at a path of field names from the event's top level (optional when any field on the
 * way is), `unknown` where the schema does not say, undefined where it has no such field.
 */
export function shapeAt(event: FieldShape, path: readonly string[]): FieldShape | undefined {
  let s = event;
  let optional = false;
  for (const key of path) {
    if (s.kind === 'unknown') return UNKNOWN;
    if (s.kind !== 'object' || s.fields === undefined) return undefined;
    const next = s.fields.get(key);
    if (next === undefined) return undefined;
    optional ||= next.optional;
    s = next;
  }
  return optional === s.optional ? s : { ...s, optional };
}
