import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { dockerAvailable, startContainers, type StartedServers } from './containers.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));

export interface Servers {
  kafkaBrokers: string;
  schemaRegistryUrl: string;
  redisUrl: string;
  /** Where they came from: the environment, testcontainers, or scripts/stack. */
  source: 'environment' | 'testcontainers' | 'scripts/stack';
  /** The secured servers of scripts/stack (TLS, SASL, ACLs), when it runs: `scripts/stack env`'s exports. */
  secure: Record<string, string> | undefined;
  /** Whether the librdkafka adapter's native addon loads (scripts/kafka-native built it). */
  librdkafka: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    servers: Servers;
  }
}

/**
 * Real servers for the integration tests, in this order of preference:
 *  1. the ones named by KAFKA_BROKERS, SCHEMA_REGISTRY_URL and REDIS_URL;
 *  2. containers, when a Docker engine answers (testcontainers);
 *  3. the project's own scripts/stack (Kafka and Apicurio from Maven Central, Redis from apt).
 * Servers this setup started are stopped at the end (set STACK_KEEP=1 to keep scripts/stack up).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Debian's chromium and prometheus for the dashboard and Prometheus tests; quick when present.
  const tools = await run(`${repo}/scripts/test-tools`, [], { cwd: repo, maxBuffer: 16 * 1024 * 1024 });
  process.stderr.write(tools.stderr);
  // The librdkafka adapter's native addon: built once (a few minutes), then found at once.
  const librdkafka = await run(`${repo}/scripts/kafka-native`, [], { cwd: repo, maxBuffer: 16 * 1024 * 1024 }).then(
    () => true,
    (err: { stderr?: string }) => {
      process.stderr.write(`integration tests: the librdkafka addon could not be built: ${err.stderr ?? String(err)}\n`);
      return false;
    },
  );
  const { KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL } = process.env;
  let teardown = async (): Promise<void> => undefined;
  let servers: Servers;
  if (KAFKA_BROKERS && SCHEMA_REGISTRY_URL && REDIS_URL) {
    servers = { kafkaBrokers: KAFKA_BROKERS, schemaRegistryUrl: SCHEMA_REGISTRY_URL, redisUrl: REDIS_URL, source: 'environment', secure: await stackExports(), librdkafka };
  } else if (await dockerAvailable()) {
    const started: StartedServers = await startContainers();
    servers = { ...started.servers, source: 'testcontainers', secure: await stackExports(), librdkafka };
    teardown = started.stop;
  } else {
    const wasUp = await run(`${repo}/scripts/stack`, ['status'], { cwd: repo }).then(
      () => true,
      () => false,
    );
    if (!wasUp) {
      process.stderr.write('integration tests: starting the servers with scripts/stack up\n');
      await run(`${repo}/scripts/stack`, ['up'], { cwd: repo, maxBuffer: 64 * 1024 * 1024 });
    }
    const env = (await stackExports())!;
    servers = {
      kafkaBrokers: env['KAFKA_BROKERS']!,
      schemaRegistryUrl: env['SCHEMA_REGISTRY_URL']!,
      redisUrl: env['REDIS_URL']!,
      source: 'scripts/stack',
      secure: env,
      librdkafka,
    };
    if (!wasUp && process.env['STACK_KEEP'] !== '1') {
      teardown = async () => {
        await run(`${repo}/scripts/stack`, ['down'], { cwd: repo });
      };
    }
  }
  const { secure, ...shown } = servers;
  process.stderr.write(`integration tests: servers from ${servers.source}: ${JSON.stringify(shown)}; secured servers ${secure === undefined ? 'absent' : 'present'}\n`);
  project.provide('servers', servers);
  return teardown;
}

/** `scripts/stack env`'s exports while the stack runs here (its secured servers among them), else undefined. */
async function stackExports(): Promise<Record<string, string> | undefined> {
  const up = await run(`${repo}/scripts/stack`, ['status'], { cwd: repo }).then(
    () => true,
    () => false,
  );
  if (!up) return undefined;
  const { stdout } = await run(`${repo}/scripts/stack`, ['env'], { cwd: repo });
  return Object.fromEntries([...stdout.matchAll(/export (\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
}
