export { loadConfig, redactedConfig } from './load.js';
export { configSchema, ENV_NAMES, type ApiToken, type Config, type ConfigInput } from './schema.js';
export { configReference } from './reference.js';
