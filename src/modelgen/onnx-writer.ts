/**
 * A small ONNX model writer (and metadata reader) built on protobufjs reflection.
 *
 * The schema below is a hand-written subset of onnx.proto (proto2 syntax), with the
 * field numbers of the ONNX specification. Only what this project needs is declared:
 * ModelProto, OperatorSetIdProto, StringStringEntryProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto, TypeProto (Tensor only) and
 * TensorShapeProto. Unknown fields are skipped on decoding, so models written by
 * other tools can still be read (e.g. for their metadata_props).
 *
 * Repeated scalar fields follow the packing declared in onnx.proto: TensorProto's
 * *_data fields are `[packed = true]`; TensorProto.dims and AttributeProto.floats/ints
 * are proto2 defaults (not packed). Parsers accept both encodings anyway.
 */
import protobuf from 'protobufjs';
import type { INamespace, Type } from 'protobufjs';

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

/** TensorProto.DataType values used here (onnx.proto numbering). */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  DOUBLE: 11,
} as const;

/** AttributeProto.AttributeType values (onnx.proto numbering). */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
} as const;

const PACKED = { packed: true } as const;

const ONNX_SCHEMA: INamespace = {
  nested: {
    onnx: {
      nested: {
        OperatorSetIdProto: {
          fields: {
            domain: { type: 'string', id: 1 },
            version: { type: 'int64', id: 2 },
          },
        },
        StringStringEntryProto: {
          fields: {
            key: { type: 'string', id: 1 },
            value: { type: 'string', id: 2 },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: 'repeated', type: 'Dimension', id: 1 },
          },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
              fields: {
                dim_value: { type: 'int64', id: 1 },
                dim_param: { type: 'string', id: 2 },
                denotation: { type: 'string', id: 3 },
              },
            },
          },
        },
        TypeProto: {
          // Only the tensor member of the `value` oneof is declared.
          oneofs: { value: { oneof: ['tensor_type'] } },
          fields: {
            tensor_type: { type: 'Tensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elem_type: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            doc_string: { type: 'string', id: 3 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            data_type: { type: 'int32', id: 2 },
            float_data: { rule: 'repeated', type: 'float', id: 4, options: PACKED },
            int32_data: { rule: 'repeated', type: 'int32', id: 5, options: PACKED },
            string_data: { rule: 'repeated', type: 'bytes', id: 6 },
            int64_data: { rule: 'repeated', type: 'int64', id: 7, options: PACKED },
            name: { type: 'string', id: 8 },
            raw_data: { type: 'bytes', id: 9 },
            double_data: { rule: 'repeated', type: 'double', id: 10, options: PACKED },
            uint64_data: { rule: 'repeated', type: 'uint64', id: 11, options: PACKED },
            doc_string: { type: 'string', id: 12 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
            tensors: { rule: 'repeated', type: 'TensorProto', id: 10 },
            graphs: { rule: 'repeated', type: 'GraphProto', id: 11 },
            doc_string: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
            ref_attr_name: { type: 'string', id: 21 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            op_type: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            doc_string: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            doc_string: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            value_info: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        ModelProto: {
          fields: {
            ir_version: { type: 'int64', id: 1 },
            producer_name: { type: 'string', id: 2 },
            producer_version: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            model_version: { type: 'int64', id: 5 },
            doc_string: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opset_import: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            metadata_props: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        /**
         * Same wire numbers as ModelProto but without `graph` (field 7): decoding with
         * this type skips the graph bytes instead of materialising every node and
         * initializer, which keeps metadata reads cheap on large models.
         */
        ModelHeader: {
          fields: {
            ir_version: { type: 'int64', id: 1 },
            producer_name: { type: 'string', id: 2 },
            producer_version: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            model_version: { type: 'int64', id: 5 },
            doc_string: { type: 'string', id: 6 },
            opset_import: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            metadata_props: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(ONNX_SCHEMA);
const ModelProtoType: Type = root.lookupType('onnx.ModelProto');
const ModelHeaderType: Type = root.lookupType('onnx.ModelHeader');

/** The reflected protobufjs types, for callers that need to go beyond the helpers. */
export const onnxTypes = {
  root,
  ModelProto: ModelProtoType,
  ModelHeader: ModelHeaderType,
  GraphProto: root.lookupType('onnx.GraphProto'),
  NodeProto: root.lookupType('onnx.NodeProto'),
  AttributeProto: root.lookupType('onnx.AttributeProto'),
  TensorProto: root.lookupType('onnx.TensorProto'),
  ValueInfoProto: root.lookupType('onnx.ValueInfoProto'),
} as const;

// ---------------------------------------------------------------------------
// Public model description
// ---------------------------------------------------------------------------

/** Element types supported for tensors and value infos. */
export type ElemType = 'float' | 'int64';

/** An int64 value: a JS number must be a safe integer; bigint covers the full range. */
export type Int64 = number | bigint;

export interface TensorSpec {
  name?: string;
  dims: readonly number[];
  type: ElemType;
  /** float: any numbers (stored as float32); int64: integers. Row-major order. */
  data: ArrayLike<number> | readonly Int64[] | BigInt64Array;
}

export type AttributeSpec =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: Int64 }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'tensor'; value: TensorSpec }
  | { name: string; type: 'floats'; value: ArrayLike<number> }
  | { name: string; type: 'ints'; value: ArrayLike<number> | readonly Int64[] | BigInt64Array }
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

/** A dimension is a fixed size (number) or a symbolic name such as "N". */
export type Dim = number | string;

export interface ValueInfoSpec {
  name: string;
  type: ElemType;
  shape: readonly Dim[];
}

export interface OpsetSpec {
  /** '' for the default ai.onnx domain. */
  domain: string;
  version: number;
}

export interface GraphSpec {
  name: string;
  nodes: readonly NodeSpec[];
  initializers?: readonly TensorSpec[];
  inputs: readonly ValueInfoSpec[];
  outputs: readonly ValueInfoSpec[];
  docString?: string;
}

export interface ModelSpec {
  /** Defaults to 8 (ONNX 1.10–1.12 era; accepted by every current onnxruntime). */
  irVersion?: number;
  opsets: readonly OpsetSpec[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphSpec;
  /** Written as ModelProto.metadata_props, in insertion order. */
  metadata?: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------------------
// Helpers for building specs
// ---------------------------------------------------------------------------

export const attr = {
  float: (name: string, value: number): AttributeSpec => ({ name, type: 'float', value }),
  int: (name: string, value: Int64): AttributeSpec => ({ name, type: 'int', value }),
  string: (name: string, value: string): AttributeSpec => ({ name, type: 'string', value }),
  tensor: (name: string, value: TensorSpec): AttributeSpec => ({ name, type: 'tensor', value }),
  floats: (name: string, value: ArrayLike<number>): AttributeSpec => ({ name, type: 'floats', value }),
  ints: (name: string, value: ArrayLike<number> | readonly Int64[] | BigInt64Array): AttributeSpec => ({
    name,
    type: 'ints',
    value,
  }),
  strings: (name: string, value: readonly string[]): AttributeSpec => ({ name, type: 'strings', value }),
};

export function floatTensor(name: string, dims: readonly number[], data: ArrayLike<number>): TensorSpec {
  return { name, dims, type: 'float', data };
}

export function int64Tensor(
  name: string,
  dims: readonly number[],
  data: ArrayLike<number> | readonly Int64[] | BigInt64Array,
): TensorSpec {
  return { name, dims, type: 'int64', data };
}

export function valueInfo(name: string, type: ElemType, shape: readonly Dim[]): ValueInfoSpec {
  return { name, type, shape };
}

// ---------------------------------------------------------------------------
// Spec -> protobufjs plain objects
// ---------------------------------------------------------------------------

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** A 64-bit integer as protobufjs takes it when it does not fit a JS number (Long-like). */
interface LongBitsLike {
  low: number;
  high: number;
  unsigned: boolean;
}

/** protobufjs takes safe-integer numbers, or {low, high} pairs, for 64-bit fields. */
function int64Value(v: Int64): number | LongBitsLike {
  if (typeof v === 'bigint') {
    if (v < -(2n ** 63n) || v >= 2n ** 63n) throw new RangeError(`int64 out of range: ${v}`);
    if (Number.isSafeInteger(Number(v))) return Number(v);
    const u = BigInt.asUintN(64, v);
    return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: false };
  }
  if (!Number.isSafeInteger(v)) throw new RangeError(`int64 value must be a safe integer (or a bigint), got ${v}`);
  return v;
}

function int64Values(data: ArrayLike<number> | readonly Int64[] | BigInt64Array): (number | LongBitsLike)[] {
  const out = new Array<number | LongBitsLike>(data.length);
  for (let i = 0; i < data.length; i++) out[i] = int64Value(data[i] as Int64);
  return out;
}

function elemTypeCode(t: ElemType): number {
  switch (t) {
    case 'float':
      return DataType.FLOAT;
    case 'int64':
      return DataType.INT64;
  }
}

function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid tensor dim ${d}`);
    n *= d;
  }
  return n;
}

function tensorObject(t: TensorSpec): Record<string, unknown> {
  const count = elementCount(t.dims);
  if (t.data.length !== count) {
    throw new RangeError(
      `tensor ${t.name ?? '<unnamed>'}: ${t.data.length} values for dims [${t.dims.join(', ')}] (${count} expected)`,
    );
  }
  const obj: Record<string, unknown> = {
    dims: t.dims.map((d) => int64Value(d)),
    data_type: elemTypeCode(t.type),
  };
  if (t.name !== undefined) obj['name'] = t.name;
  if (t.type === 'float') {
    // raw_data: fixed-width little-endian IEEE 754, as the spec requires.
    const raw = new Uint8Array(count * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < count; i++) view.setFloat32(i * 4, Number(t.data[i]), true);
    obj['raw_data'] = raw;
  } else {
    obj['int64_data'] = int64Values(t.data);
  }
  return obj;
}

function attributeObject(a: AttributeSpec): Record<string, unknown> {
  switch (a.type) {
    case 'float':
      return { name: a.name, type: AttributeType.FLOAT, f: a.value };
    case 'int':
      return { name: a.name, type: AttributeType.INT, i: int64Value(a.value) };
    case 'string':
      return { name: a.name, type: AttributeType.STRING, s: textEncoder.encode(a.value) };
    case 'tensor':
      return { name: a.name, type: AttributeType.TENSOR, t: tensorObject(a.value) };
    case 'floats':
      return { name: a.name, type: AttributeType.FLOATS, floats: Array.from(a.value, Number) };
    case 'ints':
      return { name: a.name, type: AttributeType.INTS, ints: int64Values(a.value) };
    case 'strings':
      return { name: a.name, type: AttributeType.STRINGS, strings: a.value.map((s) => textEncoder.encode(s)) };
  }
}

function nodeObject(n: NodeSpec): Record<string, unknown> {
  const obj: Record<string, unknown> = {
    input: [...n.inputs],
    output: [...n.outputs],
    op_type: n.opType,
    attribute: (n.attributes ?? []).map(attributeObject),
  };
  if (n.name !== undefined) obj['name'] = n.name;
  if (n.domain !== undefined && n.domain !== '') obj['domain'] = n.domain;
  return obj;
}

function valueInfoObject(v: ValueInfoSpec): Record<string, unknown> {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: elemTypeCode(v.type),
        shape: {
          dim: v.shape.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: int64Value(d) })),
        },
      },
    },
  };
}

function modelObject(spec: ModelSpec): Record<string, unknown> {
  if (spec.opsets.length === 0) throw new Error('a model needs at least one opset_import');
  const g = spec.graph;
  const graph: Record<string, unknown> = {
    name: g.name,
    node: g.nodes.map(nodeObject),
    initializer: (g.initializers ?? []).map((t) => {
      if (t.name === undefined) throw new Error('initializers must be named');
      return tensorObject(t);
    }),
    input: g.inputs.map(valueInfoObject),
    output: g.outputs.map(valueInfoObject),
  };
  if (g.docString !== undefined) graph['doc_string'] = g.docString;
  const model: Record<string, unknown> = {
    ir_version: spec.irVersion ?? 8,
    opset_import: spec.opsets.map((o) => ({ domain: o.domain, version: o.version })),
    graph,
    metadata_props: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  if (spec.producerName !== undefined) model['producer_name'] = spec.producerName;
  if (spec.producerVersion !== undefined) model['producer_version'] = spec.producerVersion;
  if (spec.domain !== undefined) model['domain'] = spec.domain;
  if (spec.modelVersion !== undefined) model['model_version'] = spec.modelVersion;
  if (spec.docString !== undefined) model['doc_string'] = spec.docString;
  return model;
}

// ---------------------------------------------------------------------------
// Encode / decode
// ---------------------------------------------------------------------------

/** Encodes a model description into ONNX (ModelProto) bytes. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const obj = modelObject(spec);
  const problem = ModelProtoType.verify(obj);
  if (problem !== null) throw new Error(`invalid ModelProto: ${problem}`);
  const bytes = ModelProtoType.encode(obj).finish();
  // protobufjs may return a Buffer (a Uint8Array subclass) sharing a pool; hand out a plain copy.
  return new Uint8Array(bytes);
}

export interface ModelHeader {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  opsets: OpsetSpec[];
  metadata: Record<string, string>;
}

interface DecodedHeader {
  ir_version?: number;
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  opset_import?: { domain?: string; version?: number }[];
  metadata_props?: { key?: string; value?: string }[];
}

/**
 * Reads the top-level fields of an ONNX model (everything but the graph, which is skipped
 * without being decoded). Works on any ONNX file, not only those written here.
 */
export function readModelHeader(bytes: Uint8Array): ModelHeader {
  const msg = ModelHeaderType.decode(bytes);
  const o = ModelHeaderType.toObject(msg, { longs: Number, defaults: false, arrays: true }) as DecodedHeader;
  const metadata: Record<string, string> = {};
  for (const e of o.metadata_props ?? []) metadata[e.key ?? ''] = e.value ?? '';
  return {
    irVersion: o.ir_version ?? 0,
    producerName: o.producer_name ?? '',
    producerVersion: o.producer_version ?? '',
    domain: o.domain ?? '',
    modelVersion: o.model_version ?? 0,
    docString: o.doc_string ?? '',
    opsets: (o.opset_import ?? []).map((x) => ({ domain: x.domain ?? '', version: x.version ?? 0 })),
    metadata,
  };
}

/**
 * ModelProto.metadata_props as a plain object. onnxruntime-node (1.30) does not expose
 * custom metadata on its InferenceSession, so the service reads it from the bytes here.
 * Later duplicates of a key win.
 */
export function readMetadataProps(bytes: Uint8Array): Record<string, string> {
  return readModelHeader(bytes).metadata;
}

/** Decodes a full ModelProto into a plain object (64-bit integers as numbers). For debugging and tests. */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const msg = ModelProtoType.decode(bytes);
  return ModelProtoType.toObject(msg, { longs: Number, bytes: Array, defaults: false, arrays: true });
}

/** Decodes a UTF-8 bytes field (e.g. AttributeProto.s) from a decoded object. */
export function utf8(bytes: Uint8Array | readonly number[]): string {
  return textDecoder.decode(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
}
