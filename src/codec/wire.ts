/**
 * The Confluent wire format, shared by Avro, Protobuf and JSON Schema: magic byte 0, a 4-byte
 * big-endian schema id, then the body. Protobuf bodies start with the message indexes (below).
 */
export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

/** Most message indexes read: a path deeper than this is not a real schema's nesting. */
const MAX_INDEXES = 32;

export function schemaIdOf(value: Buffer | null): number | undefined {
  if (value === null || value.length < HEADER_BYTES || value[0] !== MAGIC_BYTE) return undefined;
  return value.readUInt32BE(1);
}

export function wireEncode(schemaId: number, body: Uint8Array, prefix?: Uint8Array): Buffer {
  const extra = prefix?.length ?? 0;
  const out = Buffer.allocUnsafe(HEADER_BYTES + extra + body.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  if (prefix !== undefined) out.set(prefix, HEADER_BYTES);
  out.set(body, HEADER_BYTES + extra);
  return out;
}

/**
 * Which message of a Protobuf schema a body holds: a path of indexes, the first into the file's
 * top-level messages, each next one into the nested messages of the one before. On the wire: a
 * count, then the indexes, all zigzag varints; `[0]` (the first message) is the single byte 0.
 * Returns the indexes and the offset of the message that follows them.
 */
export function readMessageIndexes(body: Uint8Array, offset = 0): { indexes: number[]; next: number } {
  let at = offset;
  const read = (): number => {
    const v = readVarint(body, at);
    at = v.next;
    return zigzagDecode(v.value);
  };
  const count = read();
  if (count === 0) return { indexes: [0], next: at };
  if (count < 0 || count > MAX_INDEXES) throw new RangeError(`message index count ${count} is out of range`);
  const indexes = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const index = read();
    if (index < 0) throw new RangeError(`message index ${index} is negative`);
    indexes[i] = index;
  }
  return { indexes, next: at };
}

/** The wire form of a message index path (`[0]` as the single byte 0, as Confluent's clients write it). */
export function writeMessageIndexes(indexes: readonly number[]): Buffer {
  if (indexes.length === 1 && indexes[0] === 0) return Buffer.from([0]);
  const bytes: number[] = [];
  for (const v of [indexes.length, ...indexes]) writeVarint(bytes, zigzagEncode(v));
  return Buffer.from(bytes);
}

export function zigzagEncode(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

export function zigzagDecode(n: number): number {
  return (n >>> 1) ^ -(n & 1);
}

/** An unsigned LEB128 varint of up to 32 bits. */
function readVarint(buf: Uint8Array, offset: number): { value: number; next: number } {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    const b = buf[offset + i];
    if (b === undefined) throw new RangeError('message indexes are cut short');
    value |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return { value: value >>> 0, next: offset + i + 1 };
  }
  throw new RangeError('a message index varint is longer than 5 bytes');
}

function writeVarint(out: number[], value: number): void {
  let v = value >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}
