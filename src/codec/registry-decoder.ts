import { PoisonEventError, ServiceError, TransientError, errorMessage } from '../errors.js';
import { fetchSchema, type CompileOptions } from './compile.js';
import { SchemaNotFoundError, SchemaUnsupportedError } from './errors.js';
import type { CompiledSchema, EventDecoder, SchemaSource } from './types.js';
import { HEADER_BYTES, MAGIC_BYTE, schemaIdOf } from './wire.js';

/** How long an unknown schema id stays known-unknown before the registry is asked again. */
const UNKNOWN_SCHEMA_RETRY_MS = 10_000;
/** Most schema ids remembered as unknown or unsupported (random ids must not grow memory). */
const MAX_REMEMBERED_FAILURES = 4096;
/** Most compiled schemas kept; the least recently used beyond it are compiled again when they come back. */
const MAX_SCHEMAS = 1024;

interface Failure {
  at: number;
  poison: PoisonEventError;
}

/**
 * Decodes events in the Confluent wire format, Avro, Protobuf or JSON Schema by the type the
 * registry gives the schema id. Schemas are fetched and compiled once per id, in `prepare`.
 * An id the registry does not know makes its events `unknown-schema` poison (asked again after a
 * while), a schema it has but the service cannot read makes them `unsupported-schema` poison; a
 * registry that cannot be reached is a transient error (the batch is retried, nothing is
 * dead-lettered) and one that refuses the service is fatal. Compiled schemas and failures are
 * both kept for a bounded number of ids, the least recently used forgotten first.
 */
export class RegistryDecoder implements EventDecoder {
  private readonly schemas = new Map<number, CompiledSchema>();
  private readonly failed = new Map<number, Failure>();

  constructor(
    private readonly registry: SchemaSource,
    private readonly options: CompileOptions = { validateJson: false },
  ) {}

  async prepare(values: readonly (Buffer | null)[]): Promise<void> {
    const ids = new Set<number>();
    for (const v of values) {
      const id = schemaIdOf(v);
      if (id !== undefined) ids.add(id);
    }
    const now = Date.now();
    const missing: number[] = [];
    for (const id of ids) {
      const compiled = this.schemas.get(id);
      if (compiled !== undefined) {
        this.schemas.delete(id); // most recently used last
        this.schemas.set(id, compiled);
        continue;
      }
      const f = this.failed.get(id);
      if (f === undefined || now - f.at >= UNKNOWN_SCHEMA_RETRY_MS) missing.push(id);
    }
    if (missing.length === 0) return;
    await Promise.all(missing.map((id) => this.load(id, now)));
    this.evict(ids);
  }

  private async load(id: number, now: number): Promise<void> {
    try {
      this.schemas.set(id, await fetchSchema(id, this.registry, this.options));
      this.failed.delete(id);
    } catch (err) {
      if (err instanceof SchemaNotFoundError) this.remember(id, now, new PoisonEventError('unknown-schema', `schema id ${id} is not in the schema registry`));
      else if (err instanceof SchemaUnsupportedError) this.remember(id, now, new PoisonEventError('unsupported-schema', `${err.message} (registry schema type ${err.schemaType})`));
      else if (err instanceof ServiceError) throw err;
      else throw new TransientError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry: ${errorMessage(err)}`, err);
    }
  }

  /** Forgets the least recently used schemas beyond the limit, never one the batch being prepared needs. */
  private evict(inUse: ReadonlySet<number>): void {
    for (const id of this.schemas.keys()) {
      if (this.schemas.size <= MAX_SCHEMAS) return;
      if (!inUse.has(id)) this.schemas.delete(id);
    }
  }

  private remember(id: number, at: number, poison: PoisonEventError): void {
    this.failed.delete(id);
    this.failed.set(id, { at, poison });
    if (this.failed.size > MAX_REMEMBERED_FAILURES) this.failed.delete(this.failed.keys().next().value!);
  }

  decode(value: Buffer | null): unknown {
    const id = schemaIdOf(value);
    if (id === undefined) throw new PoisonEventError('decode-error', 'value is not in the Confluent wire format');
    const schema = this.schemas.get(id);
    if (schema === undefined) throw this.failed.get(id)?.poison ?? new PoisonEventError('unknown-schema', `schema id ${id} is not in the schema registry`);
    try {
      return schema.decode(value!.subarray(HEADER_BYTES));
    } catch (err) {
      throw new PoisonEventError('decode-error', `value does not decode with ${schema.type} schema ${id}: ${errorMessage(err)}`);
    }
  }
}

/** Reads JSON or the wire format by the first byte: 0 is the Confluent magic byte, JSON never starts with it. */
export class AutoDecoder implements EventDecoder {
  constructor(
    private readonly registry: RegistryDecoder,
    private readonly json: EventDecoder,
  ) {}

  prepare(values: readonly (Buffer | null)[]): Promise<void> {
    return this.registry.prepare(values);
  }

  decode(value: Buffer | null): unknown {
    return value !== null && value[0] === MAGIC_BYTE ? this.registry.decode(value) : this.json.decode(value);
  }
}
