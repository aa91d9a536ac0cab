import { PoisonEventError, TransientError, errorMessage } from '../errors.js';
import type { AvroType, EventDecoder, PredictionEncoder, PredictionRecord, SchemaSource } from './types.js';

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the Avro body. */
export const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/** How long an unknown schema id stays known-unknown before the registry is asked again. */
const UNKNOWN_SCHEMA_RETRY_MS = 10_000;

export function schemaIdOf(value: Buffer | null): number | undefined {
  if (value === null || value.length < HEADER_BYTES || value[0] !== MAGIC_BYTE) return undefined;
  return value.readUInt32BE(1);
}

export function wireEncode(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

/**
 * Decodes Avro events in the Confluent wire format. Schemas are fetched once per id, in `prepare`;
 * a registry that answers 404 makes the events `unknown-schema` poison, a registry that cannot be
 * reached is a transient error (the batch is retried, nothing is dead-lettered).
 */
export class AvroDecoder implements EventDecoder {
  private readonly types = new Map<number, AvroType>();
  private readonly unknown = new Map<number, number>();

  constructor(private readonly registry: SchemaSource) {}

  async prepare(values: readonly (Buffer | null)[]): Promise<void> {
    let missing: Set<number> | undefined;
    const now = Date.now();
    for (const v of values) {
      const id = schemaIdOf(v);
      if (id === undefined || this.types.has(id)) continue;
      const since = this.unknown.get(id);
      if (since !== undefined && now - since < UNKNOWN_SCHEMA_RETRY_MS) continue;
      (missing ??= new Set()).add(id);
    }
    if (missing === undefined) return;
    await Promise.all(
      [...missing].map(async (id) => {
        try {
          this.types.set(id, await this.registry.getSchema(id));
          this.unknown.delete(id);
        } catch (err) {
          const status = (err as { status?: number }).status;
          if (status === 404 || status === 422) this.unknown.set(id, now);
          else throw new TransientError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry: ${errorMessage(err)}`, err);
        }
      }),
    );
  }

  decode(value: Buffer | null): unknown {
    const id = schemaIdOf(value);
    if (id === undefined) throw new PoisonEventError('decode-error', 'value is not in the Confluent Avro wire format');
    const type = this.types.get(id);
    if (type === undefined) throw new PoisonEventError('unknown-schema', `schema id ${id} is not in the schema registry`);
    try {
      return type.fromBuffer(value!.subarray(HEADER_BYTES));
    } catch (err) {
      throw new PoisonEventError('decode-error', `value does not decode with schema ${id}: ${errorMessage(err)}`);
    }
  }
}

/** Reads JSON or Avro by the first byte: 0 is the Confluent magic byte, JSON never starts with it. */
export class AutoDecoder implements EventDecoder {
  constructor(
    private readonly avro: AvroDecoder,
    private readonly json: EventDecoder,
  ) {}

  prepare(values: readonly (Buffer | null)[]): Promise<void> {
    return this.avro.prepare(values);
  }

  decode(value: Buffer | null): unknown {
    return value !== null && value[0] === MAGIC_BYTE ? this.avro.decode(value) : this.json.decode(value);
  }
}

/** The Avro schema of predictions, registered under `<predictions topic>-value`. */
export const PREDICTION_SCHEMA = {
  type: 'record',
  name: 'Prediction',
  namespace: 'kscore',
  fields: [
    { name: 'model', type: 'string' },
    { name: 'version', type: 'string' },
    { name: 'score', type: ['null', 'double'], default: null },
    { name: 'label', type: ['null', 'string'], default: null },
    { name: 'probabilities', type: ['null', { type: 'array', items: 'double' }], default: null },
  ],
} as const;

export class AvroPredictionEncoder implements PredictionEncoder {
  readonly format = 'avro' as const;
  private constructor(
    private readonly schemaId: number,
    private readonly type: AvroType,
  ) {}

  static async create(registry: SchemaSource, subject: string): Promise<AvroPredictionEncoder> {
    const id = await registry.register(PREDICTION_SCHEMA, subject);
    return new AvroPredictionEncoder(id, await registry.getSchema(id));
  }

  encode(p: PredictionRecord): Buffer {
    return wireEncode(this.schemaId, this.type.toBuffer(p));
  }
}
