import type protobuf from 'protobufjs';
import { loadProtoFiles, type MessageNode } from './protobuf-files.js';
import type { NamedSchema } from './references.js';
import type { CompiledSchema, SchemaText } from './types.js';
import { readMessageIndexes, writeMessageIndexes } from './wire.js';

/**
 * How a decoded message becomes a plain object: fields by their names in the schema; 64-bit
 * integers as numbers (exact up to 2^53); enums as their numbers (so an enum can be a feature);
 * proto3 scalars left out on the wire as their zero value (proto3 cannot tell them apart); fields
 * with presence (`optional`, oneof members, messages) absent when not sent; repeated fields as
 * arrays, maps as objects, bytes as Buffers; nested messages (well-known types included, e.g. a
 * `google.protobuf.DoubleValue` is `{value: 1.5}` and a Timestamp `{seconds, nanos}`) as objects.
 */
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: true, arrays: true, objects: true };

interface TypedNode {
  type: protobuf.Type | undefined;
  nested: TypedNode[];
}

/**
 * A Protobuf schema: decodes bodies that start with Confluent's message indexes (which message of
 * the file follows), encodes as the message named `Prediction`, or else the file's first.
 */
export function compileProtobuf(main: SchemaText, deps: readonly NamedSchema[]): CompiledSchema {
  const { root, messages } = loadProtoFiles(main, deps);
  const typed = (n: MessageNode): TypedNode => ({ type: lookup(root, n.fullName), nested: n.nested.map(typed) });
  const tree = messages.map(typed);
  const first = tree[0]?.type;
  if (first === undefined) throw new Error('the schema has no message');
  const outIndex = Math.max(0, tree.findIndex((n) => n.type?.name === 'Prediction'));
  const out = tree[outIndex]!.type!;
  const outPrefix = writeMessageIndexes([outIndex]);

  const typeAt = (indexes: readonly number[]): protobuf.Type => {
    let nodes = tree;
    let node: TypedNode | undefined;
    for (const i of indexes) {
      node = nodes[i];
      if (node === undefined) break;
      nodes = node.nested;
    }
    if (node?.type === undefined) throw new RangeError(`the schema has no message at index path [${indexes.join(', ')}]`);
    return node.type;
  };

  return {
    type: 'PROTOBUF',
    decode(body) {
      let type = first;
      let at = 1;
      if (body[0] !== 0) {
        const { indexes, next } = readMessageIndexes(body);
        type = typeAt(indexes);
        at = next;
      }
      return type.toObject(type.decode(body.subarray(at)), TO_OBJECT);
    },
    encode(value) {
      const message = out.encode(value as protobuf.Message).finish();
      return Buffer.concat([outPrefix, message]);
    },
  };
}

function lookup(root: protobuf.Root, fullName: string): protobuf.Type | undefined {
  try {
    return root.lookupType(fullName);
  } catch {
    return undefined; // a map field's entry type: listed in a descriptor, not a message of its own here
  }
}
