export { loadConfig, redactedConfig, redactUrl } from './load.js';
export { configSchema, ENV_NAMES, type ApiToken, type Config, type ConfigInput, type FeaturePath } from './schema.js';
export { configReference } from './reference.js';
