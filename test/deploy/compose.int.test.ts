/**
 * docker-compose.yml as Compose reads it, where no Docker engine runs: Debian's docker-compose 1.29
 * (scripts/test-tools docker-compose) resolves it with `config`, in a checkout without a .env and in
 * one with the .env made from .env.example, and the result is checked for what the stack promises:
 * two replicas of one consumer group on one model store, health-gated start-up, persistent Kafka,
 * registry and Redis, Prometheus scraping both replicas with the shipped rules (promtool, on the
 * files laid out as the container sees them), Grafana provisioned with the shipped dashboard, loopback
 * ports, and no secret in the file. Each check is shown to fail on a broken copy where that is not
 * obvious.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, posix, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument, stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { REPO, dockerfileCmd } from './helm.js';
import { PROMTOOL_BIN } from './prometheus.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; timeout?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeout ?? 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr: err !== null && typeof err.code !== 'number' ? `${stderr}${err.message}` : stderr });
    });
  });
}

// ---------------------------------------------------------------- the resolved file

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  /** A named volume (declared under `volumes:`), not a bind mount of a host path. */
  named: boolean;
}

interface Port {
  hostIp: string;
  published: number;
  target: number;
}

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  ports?: (string | { target: number; published: number | string; host_ip?: string })[];
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  restart?: string;
  user?: string;
  stop_grace_period?: string;
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const CHECKOUT = '<checkout>';

/** A service's environment as strings (Compose keeps numbers as YAML numbers). */
function env(s: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
}

function mounts(c: Compose, s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') {
      return { source: v.source, target: v.target, readOnly: v.read_only === true, named: v.type === 'volume' };
    }
    const [source = '', target = '', mode = 'rw'] = v.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro'), named: !source.includes('/') && Object.hasOwn(c.volumes ?? {}, source) };
  });
}

function ports(s: Service): Port[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p !== 'string') return { hostIp: p.host_ip ?? '', published: Number(p.published), target: p.target };
    const m = /^(?:([\d.]+):)?(\d+):(\d+)(?:\/(?:tcp|udp))?$/.exec(p);
    if (m === null) throw new Error(`unexpected port ${p}`);
    return { hostIp: m[1] ?? '', published: Number(m[2]), target: Number(m[3]) };
  });
}

/** `--name value` and `--name=value` pairs of a command line. */
function flags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const m = /^--([\w.-]+)(?:=(.*))?$/.exec(args[i]!);
    if (m === null) continue;
    if (m[2] !== undefined) out[m[1]!] = m[2];
    else out[m[1]!] = args[++i] ?? '';
  }
  return out;
}

/** A bind mount's source as a path in the repository (the checkout links to it). */
function repoPath(source: string): string {
  expect(source.startsWith(`${CHECKOUT}/`), `${source} is not a file of the checkout`).toBe(true);
  return source.slice(CHECKOUT.length + 1);
}

const seconds = (d: string): number => {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (m === null) throw new Error(`unexpected duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as 'ms' | 's' | 'm'];
};

/** Services built from the Dockerfile. */
const kscoreServices = (c: Compose): string[] => Object.keys(c.services).filter((n) => c.services[n]!.build !== undefined).sort();
/** The scoring replicas: built from the Dockerfile and running its own command (`serve`). */
const replicas = (c: Compose): string[] => kscoreServices(c).filter((n) => c.services[n]!.command === undefined);

/** Other services a service's settings point at (`kafka:9092`, `redis://redis:6379`, `http://registry:8080/...`). */
function referencedServices(c: Compose, name: string): string[] {
  const values = Object.values(env(c.services[name]!));
  return Object.keys(c.services)
    .filter((other) => other !== name)
    .filter((other) => values.some((v) => new RegExp(`(^|[/,@])${other.replace(/[.-]/g, '\\$&')}:\\d+`).test(v)))
    .sort();
}

/** Every service must wait until each server it talks to passes its own health check. */
function dependencyProblems(c: Compose): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(c.services)) {
    for (const other of referencedServices(c, name)) {
      const condition = c.services[name]!.depends_on?.[other]?.condition;
      if (condition !== 'service_healthy') problems.push(`${name} uses ${other} but waits for ${condition ?? 'nothing'}`);
      const check = c.services[other]!.healthcheck;
      if (check === undefined || check.disable === true || (Array.isArray(check.test) && check.test[0] === 'NONE')) {
        problems.push(`${other} has no health check for ${name} to wait for`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------- secrets

const SECRET_NAME = /(TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|API_?KEY|PRIVATE_KEY)/i;
/** A value that only names a variable, with no default or an empty one: `${NAME}`, `${NAME:-}`. */
const SUBSTITUTION_ONLY = /^\$\{[A-Za-z_]\w*(?::?-)?\}$/;

/** Secrets written into a compose file: secret-named settings with a literal value, tokens, and the .env.example values. */
function hardcodedSecrets(text: string, exampleValues: string[]): string[] {
  const found: string[] = [];
  // An anchor's mapping is reported where it is written, not again at every alias of it.
  const seen = new WeakSet<object>();
  const visit = (node: unknown, path: string): void => {
    if (node !== null && typeof node === 'object') {
      if (seen.has(node)) return;
      seen.add(node);
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => {
        const m = typeof item === 'string' ? /^([A-Za-z_]\w*)=(.*)$/.exec(item) : null;
        if (m !== null && SECRET_NAME.test(m[1]!) && m[2] !== '' && !SUBSTITUTION_ONLY.test(m[2]!)) found.push(`${path}[${i}] ${m[1]}`);
        visit(item, `${path}[${i}]`);
      });
    } else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (SECRET_NAME.test(k) && (typeof v === 'string' || typeof v === 'number') && String(v) !== '' && !SUBSTITUTION_ONLY.test(String(v))) {
          found.push(`${path}.${k}`);
        }
        visit(v, `${path}.${k}`);
      }
    }
  };
  visit(parseDocument(text).toJS({ maxAliasCount: -1 }), '');
  for (const m of text.matchAll(/[A-Za-z0-9_][\w.-]*:(?:read|admin):[^\s,'"}]{16,}/g)) found.push(`a token: ${m[0]}`);
  for (const v of exampleValues) if (v !== '' && text.includes(v)) found.push(`the .env.example value ${v}`);
  return found;
}

/** KEY=value lines of an env file. */
async function envFile(path: string): Promise<Record<string, string>> {
  const text = await readFile(path, 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => /^([A-Za-z_]\w*)=(.*)$/.exec(l.trim()))
      .filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

// ---------------------------------------------------------------- checkouts and `config`

const temps: string[] = [];
const tmp = async (prefix: string): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
};

/** A folder that is the repository as a user has it (links to its files), with or without `.env`. */
async function checkout(withEnv: boolean): Promise<string> {
  const dir = await tmp('kscore-compose-');
  for (const entry of await readdir(REPO)) {
    if (entry === '.env') continue;
    await symlink(join(REPO, entry), join(dir, entry));
  }
  if (withEnv) await copyFile(join(REPO, '.env.example'), join(dir, '.env'));
  return dir;
}

/** `docker-compose config` in a checkout, with no variable of this process's environment. */
async function composeConfig(dir: string): Promise<{ run: Run; compose: Compose }> {
  const r = await run('docker-compose', ['-f', join(dir, 'docker-compose.yml'), 'config'], {
    cwd: dir,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8' },
  });
  const text = r.stdout.split(dir).join(CHECKOUT);
  return { run: r, compose: (r.code === 0 ? parse(text) : { services: {} }) as Compose };
}

let bare: { run: Run; compose: Compose; dir: string };
let withEnv: { run: Run; compose: Compose; dir: string };
let example: Record<string, string>;

beforeAll(async () => {
  const tools = await run(join(REPO, 'scripts/test-tools'), ['docker-compose'], { timeout: 10 * 60_000 });
  expect(tools.code, `scripts/test-tools docker-compose failed:\n${tools.stderr}`).toBe(0);
  const [a, b] = await Promise.all([checkout(false), checkout(true)]);
  bare = { ...(await composeConfig(a)), dir: a };
  withEnv = { ...(await composeConfig(b)), dir: b };
  example = await envFile(join(REPO, '.env.example'));
}, 11 * 60_000);

afterAll(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});

const svc = (c: Compose, name: string): Service => {
  const s = c.services[name];
  expect(s, `service ${name}`).toBeDefined();
  return s!;
};

// ---------------------------------------------------------------- the tests

describe('docker-compose.yml, resolved by docker-compose 1.29', () => {
  it('passes `docker-compose config` without a .env and with the .env made from .env.example', () => {
    expect(existsSync(join(bare.dir, '.env'))).toBe(false);
    for (const { run: r } of [bare, withEnv]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/variable is not set|WARNING|ERROR/i);
    }
    // The .env changes the secrets and nothing else.
    const strip = (c: Compose): Compose => {
      const copy = structuredClone(c);
      for (const s of Object.values(copy.services)) {
        delete s.environment?.['KSCORE_API_TOKENS'];
        delete s.environment?.['GF_SECURITY_ADMIN_PASSWORD'];
      }
      return copy;
    };
    expect(strip(withEnv.compose)).toEqual(strip(bare.compose));
    expect(withEnv.compose).not.toEqual(bare.compose);
  });

  it('takes the admin API tokens and the Grafana password from .env, and leaves them empty without it', () => {
    expect(kscoreServices(bare.compose)).toEqual(['register-demo-model', 'scoring-1', 'scoring-2']);
    // The replicas serve the admin API; the one-shot needs no token.
    expect(env(svc(withEnv.compose, 'register-demo-model'))['KSCORE_API_TOKENS']).toBeUndefined();
    for (const n of replicas(bare.compose)) {
      expect(env(svc(withEnv.compose, n))['KSCORE_API_TOKENS']).toBe(example['KSCORE_API_TOKENS']);
      expect(env(svc(bare.compose, n))['KSCORE_API_TOKENS']).toBe('');
    }
    expect(env(svc(withEnv.compose, 'grafana'))['GF_SECURITY_ADMIN_PASSWORD']).toBe(example['GRAFANA_ADMIN_PASSWORD']);
    // Empty: Grafana ignores an empty override and keeps its default admin login.
    expect(env(svc(bare.compose, 'grafana'))['GF_SECURITY_ADMIN_PASSWORD']).toBe('');
    // The placeholders say to change them, and are valid, so the stack starts with them as they are.
    expect(Object.keys(example).sort()).toEqual(['GRAFANA_ADMIN_PASSWORD', 'KSCORE_API_TOKENS']);
    for (const v of Object.values(example)) expect(v).toContain('CHANGE-ME');
    const tokens = loadConfig({ KSCORE_API_TOKENS: example['KSCORE_API_TOKENS'] }).apiTokens;
    expect(tokens.map((t) => t.role).sort()).toEqual(['admin', 'read']);
  });

  it('hardcodes no secret, and keeps .env out of git and of the image build context', async () => {
    const text = await readFile(join(REPO, 'docker-compose.yml'), 'utf8');
    const values = Object.values(example);
    expect(hardcodedSecrets(text, values)).toEqual([]);
    // The check finds a default token, a literal password, an example value and a list-form setting.
    const anchor = '  KSCORE_API_TOKENS: ${KSCORE_API_TOKENS:-}';
    expect(text).toContain(anchor);
    expect(hardcodedSecrets(text.replace(anchor, '  KSCORE_API_TOKENS: ${KSCORE_API_TOKENS:-ops:admin:0123456789abcdef}'), values)).toEqual([
      '.x-kscore-env.KSCORE_API_TOKENS',
      'a token: ops:admin:0123456789abcdef',
    ]);
    expect(hardcodedSecrets(text.replace('${GRAFANA_ADMIN_PASSWORD:-}', 'hunter2'), values)).toEqual(['.services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD']);
    expect(hardcodedSecrets(`${text}\n# ${example['GRAFANA_ADMIN_PASSWORD']}\n`, values)).toHaveLength(1);
    expect(hardcodedSecrets('services:\n  x:\n    environment:\n      - DB_PASSWORD=s3cret\n', values)).toEqual(['.services.x.environment[0] DB_PASSWORD']);
    for (const ignore of ['.gitignore', '.dockerignore']) {
      expect((await readFile(join(REPO, ignore), 'utf8')).split('\n'), ignore).toContain('.env');
    }
  });

  it('runs two scoring replicas of the image: one consumer group, one model-store volume, distinct loopback ports', async () => {
    const c = bare.compose;
    const names = replicas(c);
    expect(names).toEqual(['scoring-1', 'scoring-2']);
    const cmd = await dockerfileCmd();
    expect(cmd.at(-1)).toBe('serve');
    const dockerfile = await readFile(join(REPO, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    const graceS = loadConfig({}).shutdownGraceMs / 1000;
    const groups = new Set<string>();
    const stores = new Set<string>();
    const hostPorts = new Set<number>();
    for (const n of names) {
      const s = svc(c, n);
      const e = env(s);
      expect(s.build).toEqual({ context: CHECKOUT, dockerfile: 'Dockerfile' });
      expect(s.image, n).toBe(svc(c, 'register-demo-model').image);
      expect(s.entrypoint, n).toBeUndefined();
      // The image's own health check applies: none here overrides or disables it.
      expect(s.healthcheck, n).toBeUndefined();
      expect(s.restart, n).toBe('on-failure');
      expect(seconds(s.stop_grace_period ?? '10s'), `${n} stop_grace_period`).toBeGreaterThan(graceS);
      // The settings are ones the service accepts (an unknown KSCORE_ variable stops it).
      expect(() => loadConfig(e), n).not.toThrow();
      expect(e['KSCORE_GROUP_ID'], n).toMatch(/\S/);
      groups.add(e['KSCORE_GROUP_ID']!);
      const store = mounts(c, s).find((m) => m.target === e['KSCORE_MODEL_STORE_DIR']);
      expect(store, `${n}: a volume at KSCORE_MODEL_STORE_DIR`).toBeDefined();
      expect(store!.named && !store!.readOnly, n).toBe(true);
      stores.add(store!.source);
      expect(e['KSCORE_HTTP_HOST'], n).toBe('0.0.0.0');
      const published = ports(s);
      expect(published, n).toHaveLength(1);
      expect(published[0]!.target, n).toBe(Number(e['KSCORE_HTTP_PORT']));
      expect(published[0]!.hostIp, n).toBe('127.0.0.1');
      hostPorts.add(published[0]!.published);
    }
    expect(groups.size).toBe(1);
    expect(stores.size).toBe(1);
    expect(hostPorts.size).toBe(names.length);
    expect(new Set(names.map((n) => env(svc(c, n))['KSCORE_KAFKA_CLIENT_ID'])).size).toBe(names.length);
  });

  it('registers the demo model once Redis is healthy, from the same image into the same registry and store, then stays stopped', async () => {
    const c = bare.compose;
    const demo = svc(c, 'register-demo-model');
    expect(demo.command).toEqual([...(await dockerfileCmd()).slice(0, -1), 'model', 'demo']);
    expect(demo.restart).toBe('no');
    expect(demo.depends_on?.['redis']?.condition).toBe('service_healthy');
    expect(demo.healthcheck?.test).toEqual(['NONE']);
    const e = env(demo);
    expect(() => loadConfig(e)).not.toThrow();
    // Where a model goes: the same Redis, key prefix, name, alias and file store as the replicas.
    const where = (x: Record<string, string>): (string | undefined)[] =>
      ['REDIS_URL', 'KSCORE_REDIS_KEY_PREFIX', 'KSCORE_MODEL_NAME', 'KSCORE_MODEL_ALIAS', 'KSCORE_MODEL_STORE_DIR'].map((k) => x[k]);
    const store = (s: Service): Mount | undefined => mounts(c, s).find((m) => m.target === env(s)['KSCORE_MODEL_STORE_DIR']);
    for (const n of replicas(c)) {
      expect(where(e), n).toEqual(where(env(svc(c, n))));
      expect(store(demo), n).toEqual(store(svc(c, n)));
    }
  });

  it('makes every service that talks to Kafka, the registry or Redis wait for its health check', () => {
    const c = bare.compose;
    for (const n of replicas(c)) expect(referencedServices(c, n), n).toEqual(['kafka', 'redis', 'registry']);
    expect(referencedServices(c, 'register-demo-model')).toEqual(['redis']);
    expect(dependencyProblems(c)).toEqual([]);
    // A replica that only waits for the registry to start, or not at all, is found.
    const broken = structuredClone(c);
    broken.services['scoring-2']!.depends_on!['registry'] = { condition: 'service_started' };
    delete broken.services['register-demo-model']!.depends_on;
    expect(dependencyProblems(broken)).toEqual(['register-demo-model uses redis but waits for nothing', 'scoring-2 uses registry but waits for service_started']);
    const unchecked = structuredClone(c);
    delete unchecked.services['redis']!.healthcheck;
    expect(dependencyProblems(unchecked)).toContain('redis has no health check for scoring-1 to wait for');
  });

  it('keeps Redis on a volume with AOF (fsync every second) and never evicts a key', () => {
    const c = bare.compose;
    const redis = svc(c, 'redis');
    expect(redis.image).toMatch(/^redis:7(\.|$)/);
    const args = redis.command ?? [];
    expect(args[0]).toBe('redis-server');
    const f = flags(args);
    expect(f['appendonly']).toBe('yes');
    expect(f['appendfsync']).toBe('everysec');
    expect(f['maxmemory-policy']).toBe('noeviction');
    const data = mounts(c, redis).find((m) => m.target === f['dir']);
    expect(data, `a volume at --dir (${f['dir']})`).toBeDefined();
    expect(data!.named && !data!.readOnly).toBe(true);
  });

  it("keeps the registry's schemas: Apicurio 3.3, SQL storage on an H2 file in a volume its user can write", () => {
    const c = bare.compose;
    const registry = svc(c, 'registry');
    expect(registry.image).toMatch(/^apicurio\/apicurio-registry:3\.3\.\d+$/);
    const e = env(registry);
    expect(e['APICURIO_STORAGE_KIND']).toBe('sql');
    expect(e['APICURIO_STORAGE_SQL_KIND']).toBe('h2');
    const file = /^jdbc:h2:file:(\/[^;]+)/.exec(e['APICURIO_DATASOURCE_URL'] ?? '');
    expect(file, e['APICURIO_DATASOURCE_URL']).not.toBeNull();
    const data = mounts(c, registry).find((m) => file![1]!.startsWith(`${m.target}/`));
    expect(data, `a volume holding ${file![1]}`).toBeDefined();
    expect(data!.named && !data!.readOnly).toBe(true);
    // A one-shot gives the volume to the registry's user before the registry starts.
    const [init, ...more] = Object.entries(registry.depends_on ?? {}).filter(([, d]) => d.condition === 'service_completed_successfully');
    expect(more).toEqual([]);
    const initService = svc(c, init![0]);
    expect(initService.user).toBe('0');
    expect(initService.restart).toBe('no');
    expect(initService.image).toBe(registry.image);
    expect(mounts(c, initService)).toContainEqual(data);
    expect([...(initService.entrypoint ?? []), ...(initService.command ?? [])].join(' ')).toMatch(new RegExp(`chown \\S+ ${data!.target}( |$)`));
  });

  it("keeps Kafka's log on a volume, as one KRaft node that advertises its published port", () => {
    const c = bare.compose;
    const kafka = svc(c, 'kafka');
    expect(kafka.image).toMatch(/^apache\/kafka:4\.1\.\d+$/);
    const e = env(kafka);
    expect(e['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
    expect(e['CLUSTER_ID']).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(e['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR']).toBe('1');
    const data = mounts(c, kafka).find((m) => m.target === e['KAFKA_LOG_DIRS']);
    expect(data, `a volume at KAFKA_LOG_DIRS (${e['KAFKA_LOG_DIRS']})`).toBeDefined();
    expect(data!.named && !data!.readOnly).toBe(true);
    // Host clients are sent back to the published port; containers use kafka:9092.
    const advertised = Object.fromEntries((e['KAFKA_ADVERTISED_LISTENERS'] ?? '').split(',').map((l) => l.split('://') as [string, string]));
    const [published] = ports(kafka);
    expect(advertised['HOST']).toBe(`127.0.0.1:${published!.published}`);
    expect(e['KAFKA_LISTENERS']).toContain(`HOST://:${published!.target}`);
    expect(advertised['INTERNAL']).toBe(env(svc(c, 'scoring-1'))['KAFKA_BROKERS']);
  });

  it('publishes host ports on 127.0.0.1 only, each once, and pins every image to a version', () => {
    const c = bare.compose;
    const seen = new Map<number, string>();
    for (const [name, s] of Object.entries(c.services)) {
      for (const p of ports(s)) {
        expect(p.hostIp, `${name} ${p.published}`).toBe('127.0.0.1');
        expect(seen.get(p.published), `host port ${p.published}`).toBeUndefined();
        seen.set(p.published, name);
      }
      if (s.build === undefined) expect(s.image, name).toMatch(/^[\w./-]+:v?\d+(\.\d+)*$/);
    }
    expect([...seen.values()].sort()).toEqual(['grafana', 'kafka', 'prometheus', 'redis', 'registry', 'scoring-1', 'scoring-2']);
  });
});

/** A service's bind-mounted files, copied to where its container sees them under a fresh root. */
async function layOut(c: Compose, s: Service, leaveOut: (m: Mount) => boolean = () => false): Promise<string> {
  const root = await tmp('kscore-compose-root-');
  for (const m of mounts(c, s).filter((x) => !x.named && !leaveOut(x))) {
    const to = join(root, m.target);
    await mkdir(dirname(to), { recursive: true });
    await copyFile(join(REPO, repoPath(m.source)), to);
  }
  return root;
}

interface PromConfig {
  rule_files?: string[];
  scrape_configs?: { job_name: string; metrics_path?: string; static_configs?: { targets: string[] }[] }[];
}

describe('Prometheus and Grafana in docker-compose.yml', () => {
  const prometheus = (): { s: Service; configPath: string; config: Mount } => {
    const s = svc(bare.compose, 'prometheus');
    const configPath = flags(s.command ?? [])['config.file'] ?? '';
    expect(configPath).toMatch(/^\//);
    const config = mounts(bare.compose, s).find((m) => m.target === configPath);
    expect(config, `a mount at ${configPath}`).toBeDefined();
    return { s, configPath, config: config! };
  };

  it('scrapes both replicas by service name under the job the alert rules name', async () => {
    const c = bare.compose;
    const { s, config } = prometheus();
    expect(s.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(config.readOnly).toBe(true);
    expect(repoPath(config.source)).toBe('deploy/compose/prometheus.yml');
    const parsed = parse(await readFile(join(REPO, repoPath(config.source)), 'utf8')) as PromConfig;
    const jobs = parsed.scrape_configs ?? [];
    expect(jobs.map((j) => j.job_name)).toEqual(['kscore']);
    const alerts = await readFile(join(REPO, 'deploy/prometheus/alerts.yml'), 'utf8');
    expect(alerts).toContain('up{job="kscore"}');
    expect(jobs[0]!.metrics_path ?? '/metrics').toBe('/metrics');
    const targets = (jobs[0]!.static_configs ?? []).flatMap((sc) => sc.targets).sort();
    expect(targets).toEqual(replicas(c).map((n) => `${n}:${env(svc(c, n))['KSCORE_HTTP_PORT']}`));
    expect(targets).toHaveLength(2);
  });

  it("passes `promtool check config` with the shipped rules at the path they are mounted at, and fails without them", async () => {
    const c = bare.compose;
    const { s, configPath } = prometheus();
    const rules = mounts(c, s).find((m) => !m.named && repoPath(m.source) === 'deploy/prometheus/alerts.yml');
    expect(rules, 'deploy/prometheus/alerts.yml mounted').toBeDefined();
    expect(rules!.readOnly).toBe(true);

    /** promtool on a layout; rule files given as absolute container paths are moved under the root. */
    const check = async (root: string): Promise<Run> => {
      const file = join(root, configPath);
      const parsed = parse(await readFile(file, 'utf8')) as PromConfig;
      if ((parsed.rule_files ?? []).some((r) => isAbsolute(r))) {
        parsed.rule_files = parsed.rule_files!.map((r) => (isAbsolute(r) ? join(root, r) : r));
        await writeFile(file, stringify(parsed));
      }
      return run(PROMTOOL_BIN, ['check', 'config', file]);
    };

    // The config names the rules where the mount puts them.
    const parsed = parse(await readFile(join(REPO, 'deploy/compose/prometheus.yml'), 'utf8')) as PromConfig;
    const resolved = (parsed.rule_files ?? []).map((r) => posix.resolve(posix.dirname(configPath), r));
    expect(resolved).toEqual([rules!.target]);

    const root = await layOut(c, s);
    const ok = await check(root);
    const output = `${ok.stdout}${ok.stderr}`;
    expect(ok.code, output).toBe(0);
    expect(output).toContain('SUCCESS: 1 rule files found');
    expect(output).toContain(`Checking ${join(root, rules!.target)}`);
    const shipped = [...(await readFile(join(REPO, 'deploy/prometheus/alerts.yml'), 'utf8')).matchAll(/- alert: /g)].length;
    expect(output).toContain(`SUCCESS: ${shipped} rules found`);

    // Without the rules mount the same configuration fails: the check does read them there.
    const missing = await check(await layOut(c, s, (m) => m.target === rules!.target));
    expect(missing.code).not.toBe(0);
    expect(`${missing.stdout}${missing.stderr}`).toContain(rules!.target);
  });

  it('provisions Grafana from read-only files: this Prometheus as the default data source, and the shipped dashboard', async () => {
    const c = bare.compose;
    const grafana = svc(c, 'grafana');
    expect(grafana.image).toMatch(/^grafana\/grafana(-oss)?:\d+\.\d+\.\d+$/);
    const e = env(grafana);
    expect(e['GF_PATHS_PROVISIONING'] ?? '/etc/grafana/provisioning').toBe('/etc/grafana/provisioning');
    const ms = mounts(c, grafana);
    const provisioning = async (kind: string): Promise<Record<string, unknown>[]> => {
      const files = ms.filter((m) => posix.dirname(m.target) === `/etc/grafana/provisioning/${kind}`);
      expect(files.length, `${kind} provisioning files`).toBeGreaterThan(0);
      const docs: Record<string, unknown>[] = [];
      for (const m of files) {
        expect(m.readOnly, m.target).toBe(true);
        expect(m.target).toMatch(/\.ya?ml$/);
        const doc = parse(await readFile(join(REPO, repoPath(m.source)), 'utf8')) as Record<string, unknown>;
        expect(doc['apiVersion'], m.source).toBe(1);
        docs.push(doc);
      }
      return docs;
    };

    // The data source: the prometheus service on the port it listens on in its container.
    const prom = svc(c, 'prometheus');
    const listen = flags(prom.command ?? [])['web.listen-address'] ?? ':9090';
    const promPort = Number(listen.split(':').at(-1));
    expect(ports(prom).map((p) => p.target)).toEqual([promPort]);
    const sources = (await provisioning('datasources')).flatMap((d) => (d['datasources'] ?? []) as { type: string; url: string; isDefault?: boolean; access?: string }[]);
    expect(sources).toHaveLength(1);
    expect(sources[0]).toMatchObject({ type: 'prometheus', url: `http://prometheus:${promPort}`, isDefault: true, access: 'proxy' });

    // The dashboards: a file provider whose folder holds the mounted, shipped dashboard.
    const providers = (await provisioning('dashboards')).flatMap((d) => (d['providers'] ?? []) as { type?: string; options?: { path?: string } }[]);
    expect(providers).toHaveLength(1);
    expect(providers[0]!.type ?? 'file').toBe('file');
    const path = providers[0]!.options?.path ?? '';
    const dashboard = ms.find((m) => !m.named && repoPath(m.source) === 'deploy/grafana/kscore-dashboard.json');
    expect(dashboard, 'deploy/grafana/kscore-dashboard.json mounted').toBeDefined();
    expect(dashboard!.readOnly).toBe(true);
    expect(dashboard!.target === path || dashboard!.target.startsWith(`${path.replace(/\/$/, '')}/`), `${dashboard!.target} under ${path}`).toBe(true);
    expect(JSON.parse(await readFile(join(REPO, 'deploy/grafana/kscore-dashboard.json'), 'utf8'))).toMatchObject({ uid: 'kscore-overview' });
    // It is the home page, and viewers need no login.
    expect(e['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH']).toBe(dashboard!.target);
    expect(e['GF_AUTH_ANONYMOUS_ENABLED']).toBe('true');
    expect(e['GF_AUTH_ANONYMOUS_ORG_ROLE']).toBe('Viewer');
  });
});
