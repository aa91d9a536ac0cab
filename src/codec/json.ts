import { PoisonEventError, errorMessage } from '../errors.js';
import type { EventDecoder, PredictionEncoder, PredictionRecord } from './types.js';

export function decodeJson(value: Buffer | null): unknown {
  if (value === null || value.length === 0) throw new PoisonEventError('decode-error', 'event has no value');
  try {
    return JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new PoisonEventError('decode-error', `value is not JSON: ${errorMessage(err)}`);
  }
}

export const jsonDecoder: EventDecoder = {
  prepare: () => Promise.resolve(),
  decode: decodeJson,
};

export const jsonPredictionEncoder: PredictionEncoder = {
  format: 'json',
  encode: (p: PredictionRecord) => JSON.stringify(p),
};
