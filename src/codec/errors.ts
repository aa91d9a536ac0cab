import { ServiceError } from '../errors.js';

/** The registry has no schema with this id: its events are poison (`unknown-schema`). */
export class SchemaNotFoundError extends ServiceError {
  constructor(readonly schemaId: number, message: string) {
    super('SCHEMA_NOT_FOUND', message);
  }
}

/** The registry has the schema, but the service cannot read it: its events are poison (`unsupported-schema`). */
export class SchemaUnsupportedError extends ServiceError {
  constructor(
    readonly schemaId: number,
    /** The registry's schema type (AVRO, PROTOBUF, JSON), or `unknown`. */
    readonly schemaType: string,
    message: string,
  ) {
    super('SCHEMA_UNSUPPORTED', message);
  }
}

/** The registry refused the service (credentials, certificate, a request it rejects): fatal. */
export class RegistryRefusedError extends ServiceError {
  constructor(message: string, cause?: unknown) {
    super('SCHEMA_REGISTRY_REFUSED', message, { cause });
  }
}

/** A subject (or the version asked for) the registry does not have. */
export class SubjectNotFoundError extends ServiceError {
  constructor(
    readonly subject: string,
    readonly version: number | 'latest',
    message: string,
  ) {
    super('SCHEMA_SUBJECT_NOT_FOUND', message);
  }
}
