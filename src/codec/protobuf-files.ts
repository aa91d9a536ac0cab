import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { NamedSchema } from './references.js';
import type { SchemaText } from './types.js';

/** A message of the main file by its full name, with its nested messages in declaration order. */
export interface MessageNode {
  fullName: string;
  nested: MessageNode[];
}

/** Every file of a schema in one protobufjs root, and the main file's messages (what message indexes count). */
export interface ProtoFiles {
  root: protobuf.Root;
  messages: MessageNode[];
}

/** What ext/descriptor adds to the reflection classes, which its typings leave out. */
interface FromDescriptor<T> {
  fromDescriptor(d: unknown, edition: string): T;
}
interface DescriptorMessage {
  name: string;
  nestedType?: DescriptorMessage[];
}
interface FileDescriptor {
  package?: string;
  dependency?: string[];
  messageType?: DescriptorMessage[];
  enumType?: unknown[];
  syntax?: string;
}
interface LoadedFile {
  imports: string[];
  messages: MessageNode[];
}

/** Base64 text with no spaces or punctuation: a serialized FileDescriptorProto, never a .proto file. */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Loads a Protobuf schema as Confluent's clients register it: `.proto` text (Java, Go, JavaScript)
 * or a base64 FileDescriptorProto (Python's confluent-kafka), each file it imports found among its
 * references by import name, or else among the well-known types protobufjs ships
 * (google/protobuf/timestamp.proto, wrappers.proto, ...). Field names are kept as written.
 *
 * Message indexes count the main file's messages as declared. For a text file, nested messages
 * are counted as protobufjs lists them, without the entry types of map fields (a descriptor's
 * own order, which has them, is used when the schema is a descriptor).
 */
export function loadProtoFiles(main: SchemaText, deps: readonly NamedSchema[]): ProtoFiles {
  const root = new protobuf.Root();
  const { imports, messages } = addFile(root, main.schema);
  const byName = new Map(deps.filter((d) => d.type === 'PROTOBUF').map((d) => [d.name, d]));
  const loaded = new Set<string>();
  const pending = [...imports];
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (loaded.has(name)) continue;
    loaded.add(name);
    const dep = byName.get(name);
    if (dep !== undefined) {
      pending.push(...addFile(root, dep.schema).imports);
      continue;
    }
    const known = protobuf.common.get(name);
    if (known === null) throw new Error(`it imports "${name}", which is neither one of its references nor a well-known type`);
    root.addJSON(known.nested ?? {});
  }
  root.resolveAll();
  return { root, messages };
}

function addFile(root: protobuf.Root, schema: string): LoadedFile {
  const text = schema.trim();
  return BASE64.test(text) ? addDescriptor(root, Buffer.from(text, 'base64')) : addText(root, schema);
}

/** Parses `.proto` text into the root (which holds nothing of the same package yet when this is the main file). */
function addText(root: protobuf.Root, text: string): LoadedFile {
  const parsed = protobuf.parse(text, root, { keepCase: true });
  const ns = parsed.package === undefined ? root : root.lookup(parsed.package);
  const node = (t: protobuf.Type): MessageNode => ({ fullName: t.fullName, nested: t.nestedArray.filter(isType).map(node) });
  const messages = ns instanceof protobuf.Namespace ? ns.nestedArray.filter(isType).map(node) : [];
  return { imports: [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])], messages };
}

function addDescriptor(root: protobuf.Root, bytes: Buffer): LoadedFile {
  const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as FileDescriptor;
  const edition = file.syntax === 'proto3' ? 'proto3' : file.syntax === 'editions' ? '2023' : 'proto2';
  const ns = file.package ? root.define(file.package) : root;
  for (const m of file.messageType ?? []) ns.add((protobuf.Type as unknown as FromDescriptor<protobuf.Type>).fromDescriptor(m, edition));
  for (const e of file.enumType ?? []) ns.add((protobuf.Enum as unknown as FromDescriptor<protobuf.Enum>).fromDescriptor(e, edition));
  const node = (m: DescriptorMessage, parent: string): MessageNode => {
    const fullName = `${parent}.${m.name}`;
    return { fullName, nested: (m.nestedType ?? []).map((n) => node(n, fullName)) };
  };
  return { imports: file.dependency ?? [], messages: (file.messageType ?? []).map((m) => node(m, file.package ? `.${file.package}` : '')) };
}

function isType(o: protobuf.ReflectionObject): o is protobuf.Type {
  return o instanceof protobuf.Type;
}
