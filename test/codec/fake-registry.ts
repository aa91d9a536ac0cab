import { SchemaNotFoundError, SubjectNotFoundError } from '../../src/codec/errors.js';
import { classifyRegistryError, schemaTextOf } from '../../src/codec/registry-client.js';
import type { SchemaReference, SchemaSource, SchemaText, SubjectVersion } from '../../src/codec/types.js';

/** What a registry stores for an id: as its REST API answers (`schemaType` may be any string). */
interface Stored {
  schemaType: string;
  schema: string;
  references: SchemaReference[];
}

/**
 * An in-memory schema registry behind the real adapter's conversions: answers go through
 * `schemaTextOf` and failures through `classifyRegistryError`, so the decoders see what the real
 * `SchemaSource` gives them (`SchemaNotFoundError`, `SchemaUnsupportedError`, `TransientError`,
 * `RegistryRefusedError`, `SubjectNotFoundError`).
 */
export class FakeRegistry implements SchemaSource {
  readonly fetched: number[] = [];
  readonly registered: { schema: SchemaText; subject: string }[] = [];
  /** A raw error (as the HTTP client throws it) that every call rejects with, classified. */
  failWith: Error | undefined;
  private readonly ids = new Map<number, Stored>();
  private readonly subjects = new Map<string, number[]>();
  private nextId = 1;

  /** Stores a schema (an Avro schema object, or text of a type) and returns its id; under a subject too, when given. */
  add(schema: object | string, schemaType = 'AVRO', options: { subject?: string; references?: SchemaReference[] } = {}): number {
    const id = this.nextId++;
    this.ids.set(id, { schemaType, schema: typeof schema === 'string' ? schema : JSON.stringify(schema), references: options.references ?? [] });
    if (options.subject !== undefined) this.subjects.set(options.subject, [...(this.subjects.get(options.subject) ?? []), id]);
    return id;
  }

  schemaById(id: number): Promise<SchemaText> {
    this.fetched.push(id);
    if (this.failWith !== undefined) return Promise.reject(classifyRegistryError(this.failWith, id));
    const stored = this.ids.get(id);
    if (stored === undefined) return Promise.reject(new SchemaNotFoundError(id, `schema id ${id} is not in the schema registry`));
    return Promise.resolve().then(() => schemaTextOf(stored, id));
  }

  subjectVersion(subject: string, version: number | 'latest'): Promise<SubjectVersion> {
    if (this.failWith !== undefined) return Promise.reject(classifyRegistryError(this.failWith));
    const versions = this.subjects.get(subject) ?? [];
    const id = version === 'latest' ? versions[versions.length - 1] : versions[version - 1];
    if (id === undefined) return Promise.reject(new SubjectNotFoundError(subject, version, `subject "${subject}" has no such version`));
    const v = version === 'latest' ? versions.length : version;
    return Promise.resolve().then(() => ({ ...schemaTextOf(this.ids.get(id), id), id, subject, version: v }));
  }

  register(schema: SchemaText, subject: string): Promise<number> {
    this.registered.push({ schema, subject });
    if (this.failWith !== undefined) return Promise.reject(classifyRegistryError(this.failWith));
    return Promise.resolve(this.add(schema.schema, schema.type, { subject, references: [...schema.references] }));
  }
}
