/**
 * Writes ONNX models, and reads their metadata_props back, through the official onnx.proto
 * (ONNX 1.20, proto2) as compiled for @bufbuild/protobuf by the `onnx-buf` package: message
 * layouts, field numbers, enum values and the packing of repeated fields all come from the
 * specification; this module only maps a small model description onto them.
 */
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  AttributeProto_AttributeType as AttrType,
  ModelProtoSchema,
  TensorProto_DataType as DataType,
  type AttributeProtoSchema,
  type TensorProtoSchema,
  type ValueInfoProtoSchema,
} from 'onnx-buf';

/** Element types of value infos (graph inputs and outputs); tensors (initializers, attributes) hold float or int64. */
export type ElemType = 'float' | 'int64' | 'double' | 'int32' | 'bool' | 'string';

/** An int64 value: a JS number must be a safe integer; bigint covers the full range. */
export type Int64 = number | bigint;

type Int64Data = ArrayLike<number> | readonly Int64[] | BigInt64Array;

export interface TensorSpec {
  name?: string;
  dims: readonly number[];
  type: ElemType;
  /** float: any numbers (stored as float32 raw_data); int64: integers (int64_data). Row-major. */
  data: Int64Data;
}

export type AttributeSpec =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: Int64 }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'tensor'; value: TensorSpec }
  | { name: string; type: 'floats'; value: ArrayLike<number> }
  | { name: string; type: 'ints'; value: Int64Data }
  | { name: string; type: 'strings'; value: readonly string[] };

export interface NodeSpec {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** '' (or omitted) is the default ai.onnx domain. */
  domain?: string;
  attributes?: readonly AttributeSpec[];
}

/** A tensor value info; a dimension is a fixed size (number) or a symbolic name such as "N". */
export interface ValueInfoSpec {
  name: string;
  type: ElemType;
  shape: readonly (number | string)[];
}

export interface GraphSpec {
  name: string;
  nodes: readonly NodeSpec[];
  /** Every initializer must be named. */
  initializers?: readonly TensorSpec[];
  inputs: readonly ValueInfoSpec[];
  outputs: readonly ValueInfoSpec[];
  docString?: string;
}

export interface ModelSpec {
  /** Defaults to 8 (ONNX 1.10–1.12 era; accepted by every current onnxruntime). */
  irVersion?: number;
  /** At least one; domain '' is the default ai.onnx domain. */
  opsets: readonly { domain: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphSpec;
  /** Written as ModelProto.metadata_props, in insertion order. */
  metadata?: Readonly<Record<string, string>>;
}

export const attr = {
  float: (name: string, value: number): AttributeSpec => ({ name, type: 'float', value }),
  int: (name: string, value: Int64): AttributeSpec => ({ name, type: 'int', value }),
  string: (name: string, value: string): AttributeSpec => ({ name, type: 'string', value }),
  tensor: (name: string, value: TensorSpec): AttributeSpec => ({ name, type: 'tensor', value }),
  floats: (name: string, value: ArrayLike<number>): AttributeSpec => ({ name, type: 'floats', value }),
  ints: (name: string, value: Int64Data): AttributeSpec => ({ name, type: 'ints', value }),
  strings: (name: string, value: readonly string[]): AttributeSpec => ({ name, type: 'strings', value }),
};

export function floatTensor(name: string, dims: readonly number[], data: ArrayLike<number>): TensorSpec {
  return { name, dims, type: 'float', data };
}

export function valueInfo(name: string, type: ElemType, shape: readonly (number | string)[]): ValueInfoSpec {
  return { name, type, shape };
}

const ELEM_TYPE = {
  float: DataType.FLOAT,
  int64: DataType.INT64,
  double: DataType.DOUBLE,
  int32: DataType.INT32,
  bool: DataType.BOOL,
  string: DataType.STRING,
} as const;
const utf8 = new TextEncoder();

function int64(v: Int64): bigint {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) {
    throw new RangeError(`int64 value must be a safe integer (or a bigint), got ${v}`);
  }
  const b = BigInt(v);
  if (BigInt.asIntN(64, b) !== b) throw new RangeError(`int64 out of range: ${v}`);
  return b;
}

const int64s = (data: Int64Data): bigint[] => Array.from(data as ArrayLike<Int64>, (v) => int64(v));

function tensor(t: TensorSpec): MessageInitShape<typeof TensorProtoSchema> {
  let count = 1;
  for (const d of t.dims) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid tensor dim ${d}`);
    count *= d;
  }
  if (t.data.length !== count) {
    throw new RangeError(
      `tensor ${t.name ?? '<unnamed>'}: ${t.data.length} values for dims [${t.dims.join(', ')}] (${count} expected)`,
    );
  }
  const head = { name: t.name, dims: t.dims.map(int64), dataType: ELEM_TYPE[t.type] };
  if (t.type === 'int64') return { ...head, int64Data: int64s(t.data) };
  if (t.type !== 'float') throw new RangeError(`tensor ${t.name ?? '<unnamed>'}: only float and int64 tensors are written, not ${t.type}`);
  // raw_data: fixed-width little-endian IEEE 754, as the specification requires.
  const raw = new Uint8Array(count * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < count; i++) view.setFloat32(i * 4, Number(t.data[i]), true);
  return { ...head, rawData: raw };
}

function attribute(a: AttributeSpec): MessageInitShape<typeof AttributeProtoSchema> {
  const name = a.name;
  switch (a.type) {
    case 'float':
      return { name, type: AttrType.FLOAT, f: a.value };
    case 'int':
      return { name, type: AttrType.INT, i: int64(a.value) };
    case 'string':
      return { name, type: AttrType.STRING, s: utf8.encode(a.value) };
    case 'tensor':
      return { name, type: AttrType.TENSOR, t: tensor(a.value) };
    case 'floats':
      return { name, type: AttrType.FLOATS, floats: Array.from(a.value, Number) };
    case 'ints':
      return { name, type: AttrType.INTS, ints: int64s(a.value) };
    case 'strings':
      return { name, type: AttrType.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
  }
}

function tensorValueInfo(v: ValueInfoSpec): MessageInitShape<typeof ValueInfoProtoSchema> {
  const dim = v.shape.map((d) => ({
    value: typeof d === 'string' ? { case: 'dimParam' as const, value: d } : { case: 'dimValue' as const, value: int64(d) },
  }));
  return { name: v.name, type: { value: { case: 'tensorType', value: { elemType: ELEM_TYPE[v.type], shape: { dim } } } } };
}

/** Encodes a model description into ONNX (ModelProto) bytes. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  if (spec.opsets.length === 0) throw new Error('a model needs at least one opset_import');
  const g = spec.graph;
  const model = create(ModelProtoSchema, {
    irVersion: int64(spec.irVersion ?? 8),
    producerName: spec.producerName,
    producerVersion: spec.producerVersion,
    domain: spec.domain,
    modelVersion: spec.modelVersion === undefined ? undefined : int64(spec.modelVersion),
    docString: spec.docString,
    opsetImport: spec.opsets.map((o) => ({ domain: o.domain, version: int64(o.version) })),
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name,
      docString: g.docString,
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain === '' ? undefined : n.domain,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: (n.attributes ?? []).map(attribute),
      })),
      initializer: (g.initializers ?? []).map((t) => {
        if (t.name === undefined) throw new Error('initializers must be named');
        return tensor(t);
      }),
      input: g.inputs.map(tensorValueInfo),
      output: g.outputs.map(tensorValueInfo),
    },
  });
  return toBinary(ModelProtoSchema, model);
}

/**
 * ModelProto.metadata_props as a plain object (later duplicates of a key win), from any ONNX
 * file. onnxruntime-node (1.30) does not expose custom metadata on its InferenceSession, so the
 * service reads it from the bytes. The graph is skipped unread, which keeps this cheap on large
 * models.
 */
export function readMetadataProps(bytes: Uint8Array): Record<string, string> {
  const graphField = ModelProtoSchema.field.graph.number;
  const reader = new BinaryReader(bytes);
  const rest = new BinaryWriter();
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [fieldNo, wireType] = reader.tag();
    reader.skip(wireType, fieldNo);
    if (fieldNo !== graphField) rest.raw(bytes.subarray(start, reader.pos));
  }
  const { metadataProps } = fromBinary(ModelProtoSchema, rest.finish());
  return Object.fromEntries(metadataProps.map((e) => [e.key, e.value]));
}
