import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));

/** The secured Kafka listeners of the test servers, and the users and certificates that go with them. */
export interface SecureKafka {
  saslSslBrokers: string;
  sslBrokers: string;
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  user: string;
  password: string;
  /** Authenticates, but ACLs refuse it every topic starting with `deniedTopicPrefix`. */
  deniedUser: string;
  deniedPassword: string;
  deniedTopicPrefix: string;
}

const NAMES = {
  saslSslBrokers: 'KAFKA_SASL_SSL_BROKERS',
  sslBrokers: 'KAFKA_SSL_BROKERS',
  caFile: 'STACK_TLS_CA',
  clientCertFile: 'STACK_TLS_CLIENT_CERT',
  clientKeyFile: 'STACK_TLS_CLIENT_KEY',
  user: 'STACK_SECURE_USER',
  password: 'STACK_SECURE_PASSWORD',
  deniedUser: 'STACK_DENIED_USER',
  deniedPassword: 'STACK_DENIED_PASSWORD',
  deniedTopicPrefix: 'STACK_DENIED_TOPIC_PREFIX',
} as const satisfies Record<keyof SecureKafka, string>;

/**
 * Where the secured listeners are: from the environment when it names them all (CI's setup),
 * otherwise from `scripts/stack env` (STACK_RUN_DIR picks another checkout's running stack).
 * Undefined when neither knows them, or the CA file named is not there: the tests skip.
 */
export async function secureKafka(): Promise<SecureKafka | undefined> {
  let env: Record<string, string | undefined> = process.env;
  if (Object.values(NAMES).some((n) => env[n] === undefined)) {
    const out = await run(`${repo}/scripts/stack`, ['env'], { cwd: repo }).then(
      (r) => r.stdout,
      () => '',
    );
    env = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'(.*)'$/, '$1')]));
  }
  const values = Object.fromEntries(Object.entries(NAMES).map(([k, n]) => [k, env[n]])) as Partial<SecureKafka>;
  if (Object.values(values).some((v) => v === undefined || v === '')) return undefined;
  const found = values as SecureKafka;
  return existsSync(found.caFile) ? found : undefined;
}
