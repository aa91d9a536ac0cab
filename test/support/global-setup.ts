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
  const { KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL } = process.env;
  let teardown = async (): Promise<void> => undefined;
  let servers: Servers;
  if (KAFKA_BROKERS && SCHEMA_REGISTRY_URL && REDIS_URL) {
    servers = { kafkaBrokers: KAFKA_BROKERS, schemaRegistryUrl: SCHEMA_REGISTRY_URL, redisUrl: REDIS_URL, source: 'environment' };
  } else if (await dockerAvailable()) {
    const started: StartedServers = await startContainers();
    servers = { ...started.servers, source: 'testcontainers' };
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
    const { stdout } = await run(`${repo}/scripts/stack`, ['env'], { cwd: repo });
    const env = Object.fromEntries([...stdout.matchAll(/export (\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    servers = {
      kafkaBrokers: env['KAFKA_BROKERS']!,
      schemaRegistryUrl: env['SCHEMA_REGISTRY_URL']!,
      redisUrl: env['REDIS_URL']!,
      source: 'scripts/stack',
    };
    if (!wasUp && process.env['STACK_KEEP'] !== '1') {
      teardown = async () => {
        await run(`${repo}/scripts/stack`, ['down'], { cwd: repo });
      };
    }
  }
  process.stderr.write(`integration tests: servers from ${servers.source}: ${JSON.stringify(servers)}\n`);
  project.provide('servers', servers);
  return teardown;
}
