export { loadConfig } from './load.js';
export { configSchema, ENV_NAMES, type Config, type ConfigInput } from './schema.js';
export { configReference } from './reference.js';
