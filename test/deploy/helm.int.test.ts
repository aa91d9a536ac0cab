import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { PROMTOOL_BIN } from './prometheus.js';
import { ALERTS_FILE, CHART_DIR, REPO, dockerfileCmd, runTool } from './helm.js';

// The Helm chart, rendered by real Helm and checked by real validators: `helm lint`, every built-in
// object against the Kubernetes API schemas of kubernetes-validate (strict: unknown fields fail),
// the custom resources (KEDA, Prometheus Operator) by hand, the PrometheusRule by promtool, and
// what the chart promises (grace period, no secret in the ConfigMap, KEDA capped at the
// partitions, the Indexed Job). scripts/k8s-tools provides Helm and kubernetes-validate.

/** The newest Kubernetes whose schemas kubernetes-validate ships, and the chart's oldest (kubeVersion). */
const KUBE_VERSION = '1.37.0';
const KUBE_VERSION_MIN = '1.29.0';
const NAMESPACE = 'scoring';
const PRODUCTION = join(CHART_DIR, 'values-production.yaml');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [key: string]: any;
}

let HELM = '';
let KUBE_VALIDATE = '';
let work = '';

beforeAll(async () => {
  // Cold, this builds Helm from source (minutes on 2 cores); warm it answers at once.
  const tools = await runTool(join(REPO, 'scripts/k8s-tools'), [], { timeout: 20 * 60_000 });
  expect(tools.code, `scripts/k8s-tools failed:\n${tools.stderr}`).toBe(0);
  const env = Object.fromEntries([...tools.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]!.replace(/^'(.*)'$/, '$1')]));
  HELM = env['HELM'] ?? '';
  KUBE_VALIDATE = env['KUBE_VALIDATE'] ?? '';
  expect(HELM).not.toBe('');
  expect(KUBE_VALIDATE).not.toBe('');
  work = await mkdtemp(join(tmpdir(), 'kscore-helm-'));
}, 25 * 60_000);

afterAll(async () => {
  if (work !== '') await rm(work, { recursive: true, force: true });
});

/** `helm template` of the chart with values files and --set pairs; the run as it went. */
function template(opts: { files?: string[]; set?: Record<string, string | number | boolean>; kubeVersion?: string; show?: string; skipSchema?: boolean } = {}) {
  const args = ['template', 'kscore', CHART_DIR, '--namespace', NAMESPACE, '--kube-version', opts.kubeVersion ?? KUBE_VERSION];
  if (opts.skipSchema === true) args.push('--skip-schema-validation');
  for (const f of opts.files ?? []) args.push('--values', f);
  // Strings stay strings (--set-string); numbers and booleans keep their type. Commas are escaped:
  // to --set they separate assignments.
  for (const [k, v] of Object.entries(opts.set ?? {})) args.push(typeof v === 'string' ? '--set-string' : '--set', `${k}=${String(v).replace(/,/g, '\\,')}`);
  if (opts.show !== undefined) args.push('--show-only', opts.show);
  return runTool(HELM, args);
}

/** Rendered objects; fails the test with Helm's message when the render fails. */
async function render(opts: Parameters<typeof template>[0] = {}): Promise<{ text: string; objects: K8sObject[] }> {
  const r = await template(opts);
  expect(r.code, r.stderr).toBe(0);
  const docs = parseAllDocuments(r.stdout);
  for (const d of docs) expect(d.errors, String(d.errors)).toEqual([]);
  return { text: r.stdout, objects: docs.map((d) => d.toJS() as K8sObject).filter((o) => o !== null) };
}

function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found.map((o) => `${o.kind}/${o.metadata.name}`), `one ${kind}${name ? ` ${name}` : ''}`).toHaveLength(1);
  return found[0]!;
}

const kinds = (objects: K8sObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

/** The API groups that kubernetes-validate has no schemas for: checked by hand below. */
const CUSTOM_GROUPS = ['keda.sh/', 'monitoring.coreos.com/'];
const isCustom = (o: K8sObject): boolean => CUSTOM_GROUPS.some((g) => o.apiVersion.startsWith(g));

/** kubernetes-validate --strict on the built-in objects; the run, and which objects passed. */
async function kubeValidate(objects: K8sObject[], version: string): Promise<{ code: number; output: string; passed: string[] }> {
  const builtIn = objects.filter((o) => !isCustom(o));
  const file = join(work, `validate-${version}-${Math.random().toString(36).slice(2)}.yaml`);
  // One JSON document per line is YAML too; the validator reads every document of a file.
  await writeFile(file, builtIn.map((o) => `---\n${JSON.stringify(o)}`).join('\n'));
  const r = await runTool(KUBE_VALIDATE, ['--strict', '--kubernetes-version', version, file]);
  const passed = [...r.stdout.matchAll(/passed for resource (\S+)\//g)].map((m) => m[1]!);
  return { code: r.code, output: `${r.stdout}${r.stderr}`, passed };
}

function secretFilesOf(container: any): Record<string, string> {
  return Object.fromEntries((container.env ?? []).filter((e: any) => e.name.endsWith('_FILE')).map((e: any) => [e.name, e.value]));
}

describe('helm lint', () => {
  it('passes with the default values and with values-production.yaml, in strict mode', async () => {
    for (const files of [[], [PRODUCTION]]) {
      const args = ['lint', CHART_DIR, '--strict', '--kube-version', KUBE_VERSION, ...files.flatMap((f) => ['--values', f])];
      const r = await runTool(HELM, args);
      expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it('fails values that values.schema.json refuses (a misspelt key, a wrong type), so a pass means something', async () => {
    const typo = await runTool(HELM, ['lint', CHART_DIR, '--strict', '--set', 'replicaCont=3']);
    expect(typo.code).not.toBe(0);
    expect(typo.stdout).toContain("additional properties 'replicaCont' not allowed");
    const type = await runTool(HELM, ['lint', CHART_DIR, '--strict', '--set-string', 'keda.maxReplicaCount=three']);
    expect(type.code).not.toBe(0);
    expect(type.stdout).toContain("at '/keda/maxReplicaCount': got string, want integer");
  });

  it("does not fail on the chart's own `fail` checks (Helm lints in a mode that logs them): helm template tests those", async () => {
    const r = await runTool(HELM, ['lint', CHART_DIR, '--strict', '--set', 'keda.enabled=true,keda.maxReplicaCount=99']);
    expect(r.code).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain('Fail: keda.maxReplicaCount (99) is above topicPartitions (3)');
  });
});

describe('helm template, validated against the Kubernetes API schemas', () => {
  it('renders the default values: Deployment, Services, ConfigMap, PDB, ServiceAccount, all valid', async () => {
    const { objects } = await render();
    expect(kinds(objects)).toEqual([
      'ConfigMap/kscore',
      'Deployment/kscore',
      'PodDisruptionBudget/kscore',
      'Service/kscore',
      'Service/kscore-admin',
      'ServiceAccount/kscore',
    ]);
    for (const version of [KUBE_VERSION, KUBE_VERSION_MIN]) {
      const v = await kubeValidate(objects, version);
      expect(v.code, v.output).toBe(0);
      expect(v.passed.sort()).toEqual(['configmap', 'deployment', 'poddisruptionbudget', 'service', 'service', 'serviceaccount']);
    }
  });

  it('renders values-production.yaml: the built-in objects valid, the KEDA and Prometheus Operator kinds present', async () => {
    const { objects } = await render({ files: [PRODUCTION] });
    expect(kinds(objects)).toEqual([
      'ConfigMap/kscore',
      'Deployment/kscore',
      'PodDisruptionBudget/kscore',
      'PrometheusRule/kscore',
      'ScaledObject/kscore',
      'Service/kscore',
      'Service/kscore-admin',
      'ServiceAccount/kscore',
      'ServiceMonitor/kscore',
      'TriggerAuthentication/kscore-kafka',
    ]);
    const v = await kubeValidate(objects, KUBE_VERSION);
    expect(v.code, v.output).toBe(0);
    expect(v.passed).toHaveLength(objects.filter((o) => !isCustom(o)).length);
    // An autoscaler owns the count: a replicas field would reset it on every upgrade.
    expect(only(objects, 'Deployment').spec.replicas).toBeUndefined();
    expect(objects.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
  });

  it('renders every optional part at once (PVC, HPA, replay Job, hard anti-affinity), all valid', async () => {
    const { objects } = await render({
      set: {
        'modelStore.create': true,
        'autoscaling.enabled': true,
        'replayJob.enabled': true,
        'replayJob.jobId': 'all-parts',
        podAntiAffinity: 'hard',
        'secrets.apiTokens.existingSecret': 'tokens',
        'secrets.kafkaTlsCert.existingSecret': 'kafka-client',
        'secrets.kafkaTlsKey.existingSecret': 'kafka-client',
      },
    });
    expect(kinds(objects)).toEqual(expect.arrayContaining(['HorizontalPodAutoscaler/kscore', 'Job/kscore-replay-all-parts', 'PersistentVolumeClaim/kscore-models']));
    for (const version of [KUBE_VERSION, KUBE_VERSION_MIN]) {
      const v = await kubeValidate(objects, version);
      expect(v.code, v.output).toBe(0);
      expect(v.passed).toHaveLength(objects.length);
    }
    const deployment = only(objects, 'Deployment');
    expect(deployment.spec.template.spec.volumes.find((v: any) => v.name === 'model-store').persistentVolumeClaim.claimName).toBe('kscore-models');
    expect(deployment.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
  });

  it('kubernetes-validate refuses an object with a misspelt field, so its pass means something', async () => {
    const { objects } = await render();
    const deployment = structuredClone(only(objects, 'Deployment'));
    const pod = deployment.spec.template.spec;
    pod.enableServiceLink = pod.enableServiceLinks;
    delete pod.enableServiceLinks;
    const v = await kubeValidate([deployment], KUBE_VERSION);
    expect(v.code).not.toBe(0);
    expect(v.output).toContain("'enableServiceLink' was unexpected");
  });
});

describe('the scoring Deployment', () => {
  it("runs the image's own command, non-root on a read-only root, with probes on the HTTP port", async () => {
    const { objects } = await render({ files: [PRODUCTION] });
    const pod = only(objects, 'Deployment').spec.template.spec;
    const [c] = pod.containers;
    expect(pod.containers).toHaveLength(1);
    expect(c.command).toBeUndefined();
    expect(c.args).toBeUndefined();
    expect(c.image).toBe('registry.example.com/ml/kscore:0.1.0');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    // Every writable path the service uses is a volume.
    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    expect(mounts).toMatchObject({ '/tmp': 'tmp', '/var/lib/kscore/models': 'model-store', '/var/lib/kscore/replays': 'replays' });
    const cm = only(objects, 'ConfigMap');
    expect(cm.data!['KSCORE_MODEL_STORE_DIR']).toBe('/var/lib/kscore/models');
    expect(cm.data!['KSCORE_REPLAY_OUTPUT_DIR']).toBe('/var/lib/kscore/replays');
    expect(cm.data!['KSCORE_HTTP_HOST']).toBe('0.0.0.0');
    expect(pod.volumes.find((v: any) => v.name === 'model-store').persistentVolumeClaim.claimName).toBe('kscore-models');
    // Probes: startup and liveness on /healthz, readiness on /readyz, all on the named HTTP port.
    expect(c.ports).toEqual([{ name: 'http', containerPort: Number(cm.data!['KSCORE_HTTP_PORT']), protocol: 'TCP' }]);
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'kscore' } }]);
  });

  it('turns service links off (they would inject KSCORE_PORT and the like, which the service refuses)', async () => {
    for (const opts of [{}, { files: [PRODUCTION] }]) {
      const { objects } = await render(opts);
      expect(only(objects, 'Deployment').spec.template.spec.enableServiceLinks).toBe(false);
    }
  });

  it("gives the pod a termination grace period longer than the service's KSCORE_SHUTDOWN_GRACE_MS", async () => {
    const cases: [Parameters<typeof template>[0], number][] = [
      [{}, 30], // 15000 ms (the service default) -> 15 s + 15 s margin
      [{ files: [PRODUCTION] }, 35], // 20000 ms
      [{ set: { 'config.KSCORE_SHUTDOWN_GRACE_MS': 20500 } }, 36], // rounded up to 21 s
      [{ set: { 'config.KSCORE_SHUTDOWN_GRACE_MS': 90000, terminationGraceMarginSeconds: 5 } }, 95],
    ];
    for (const [opts, expected] of cases) {
      const { objects } = await render(opts);
      const graceMs = Number(only(objects, 'ConfigMap').data!['KSCORE_SHUTDOWN_GRACE_MS']);
      const seconds = only(objects, 'Deployment').spec.template.spec.terminationGracePeriodSeconds;
      expect(seconds).toBe(expected);
      expect(seconds * 1000).toBeGreaterThan(graceMs);
    }
    for (const skipSchema of [false, true]) {
      const r = await template({ set: { terminationGraceMarginSeconds: 0 }, skipSchema });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(skipSchema ? 'terminationGraceMarginSeconds must be at least 1' : "at '/terminationGraceMarginSeconds': minimum: got 0, want 1");
    }
  });

  it('asks for at least the benchmarked footprint (the largest RSS in docs/bench-service.md) and spreads replicas over nodes', async () => {
    const { objects } = await render();
    const spec = only(objects, 'Deployment').spec;
    const c = spec.template.spec.containers[0];
    expect(c.resources).toEqual({ requests: { cpu: '1', memory: '480Mi' }, limits: { memory: '768Mi' } });
    const bench = await readFile(join(REPO, 'docs/bench-service.md'), 'utf8');
    const rss = [...bench.matchAll(/\| (\d{3}) \|\n/g)].map((m) => Number(m[1]));
    expect(rss.length).toBeGreaterThan(0);
    expect(Math.max(...rss)).toBeLessThanOrEqual(480);
    const preferred = spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    expect(preferred[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(preferred[0].podAffinityTerm.labelSelector.matchLabels).toEqual(spec.selector.matchLabels);
    // Standard labels, and a hash of the ConfigMap that changes with a setting.
    expect(only(objects, 'Deployment').metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'kscore',
      'app.kubernetes.io/instance': 'kscore',
      'app.kubernetes.io/version': '0.1.0',
      'app.kubernetes.io/managed-by': 'Helm',
    });
    const hash = spec.template.metadata.annotations['checksum/config'];
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const changed = await render({ set: { 'config.KSCORE_LOG_LEVEL': 'debug' } });
    expect(only(changed.objects, 'Deployment').spec.template.metadata.annotations['checksum/config']).not.toBe(hash);
  });

  it('prints whole numbers as integers in the ConfigMap (YAML numbers reach Helm as floats)', async () => {
    const { objects } = await render();
    expect(only(objects, 'ConfigMap').data!['KSCORE_HTTP_PORT']).toBe('18080');
    const file = join(work, 'big-number.yaml');
    await writeFile(file, 'config:\n  KSCORE_MAX_UPLOAD_BYTES: 268435456\n  KSCORE_MAX_WAIT_MS: 2.5\n');
    const big = await render({ files: [file] });
    expect(only(big.objects, 'ConfigMap').data).toMatchObject({ KSCORE_MAX_UPLOAD_BYTES: '268435456', KSCORE_MAX_WAIT_MS: '2.5' });
  });
});

describe('secrets', () => {
  const SECRET_SETTINGS: Record<string, string> = {
    apiTokens: 'KSCORE_API_TOKENS_FILE',
    kafkaSaslPassword: 'KSCORE_KAFKA_SASL_PASSWORD_FILE',
    kafkaTlsCa: 'KSCORE_KAFKA_TLS_CA_FILE',
    kafkaTlsCert: 'KSCORE_KAFKA_TLS_CERT_FILE',
    kafkaTlsKey: 'KSCORE_KAFKA_TLS_KEY_FILE',
    schemaRegistryPassword: 'KSCORE_SCHEMA_REGISTRY_PASSWORD_FILE',
    schemaRegistryCa: 'KSCORE_SCHEMA_REGISTRY_CA_FILE',
    redisPassword: 'KSCORE_REDIS_PASSWORD_FILE',
    redisTlsCa: 'KSCORE_REDIS_TLS_CA_FILE',
  };

  it('mounts each named Secret key as a file and passes its path in the *_FILE variable', async () => {
    const set: Record<string, string> = {};
    for (const name of Object.keys(SECRET_SETTINGS)) {
      set[`secrets.${name}.existingSecret`] = `secret-${name.toLowerCase()}`;
      set[`secrets.${name}.key`] = `key-${name.toLowerCase()}`;
    }
    const { objects } = await render({ set });
    const pod = only(objects, 'Deployment').spec.template.spec;
    const c = pod.containers[0];
    const files = secretFilesOf(c);
    expect(Object.keys(files).sort()).toEqual(Object.values(SECRET_SETTINGS).sort());
    const mount = c.volumeMounts.find((m: any) => m.name === 'secrets');
    expect(mount.readOnly).toBe(true);
    const sources = pod.volumes.find((v: any) => v.name === 'secrets').projected.sources;
    for (const [name, env] of Object.entries(SECRET_SETTINGS)) {
      const source = sources.find((s: any) => s.secret.name === `secret-${name.toLowerCase()}`);
      expect(source.secret.items).toEqual([{ key: `key-${name.toLowerCase()}`, path: name }]);
      expect(files[env]).toBe(`${mount.mountPath}/${name}`);
    }
    const v = await kubeValidate(objects, KUBE_VERSION);
    expect(v.code, v.output).toBe(0);
  });

  it('leaves every secret out of the ConfigMap, and refuses a secret value given as a plain setting', async () => {
    const { objects, text } = await render({ files: [PRODUCTION] });
    const data = only(objects, 'ConfigMap').data!;
    for (const key of Object.keys(data)) {
      expect(key).not.toMatch(/PASSWORD|TOKENS|_FILE$|_KEY$|_CERT$|_CA$/);
    }
    for (const value of Object.values(data)) expect(value).not.toMatch(/:\/\/[^/@]*:[^/@]*@/);
    // The production example names a Secret for every password and CA it uses, none in plain text.
    const files = secretFilesOf(only(objects, 'Deployment').spec.template.spec.containers[0]);
    expect(Object.keys(files).sort()).toEqual([
      'KSCORE_API_TOKENS_FILE',
      'KSCORE_KAFKA_SASL_PASSWORD_FILE',
      'KSCORE_KAFKA_TLS_CA_FILE',
      'KSCORE_REDIS_PASSWORD_FILE',
      'KSCORE_REDIS_TLS_CA_FILE',
      'KSCORE_SCHEMA_REGISTRY_CA_FILE',
      'KSCORE_SCHEMA_REGISTRY_PASSWORD_FILE',
    ]);
    expect(text).not.toContain('kind: Secret\n');

    const SENTINEL = 'sentinel-Secret-Value-4242';
    const attempts: [Record<string, string>, string][] = [
      [{ 'config.KSCORE_API_TOKENS': `ops:admin:${SENTINEL}` }, 'config.KSCORE_API_TOKENS is a secret setting'],
      [{ 'config.KSCORE_KAFKA_SASL_PASSWORD': SENTINEL }, 'config.KSCORE_KAFKA_SASL_PASSWORD is a secret setting'],
      [{ 'config.KSCORE_SCHEMA_REGISTRY_PASSWORD': SENTINEL }, 'config.KSCORE_SCHEMA_REGISTRY_PASSWORD is a secret setting'],
      [{ 'config.KSCORE_REDIS_PASSWORD': SENTINEL }, 'config.KSCORE_REDIS_PASSWORD is a secret setting'],
      [{ 'config.KSCORE_REDIS_PASSWORD_FILE': '/elsewhere' }, 'config.KSCORE_REDIS_PASSWORD_FILE is a secret setting'],
      [{ 'config.REDIS_URL': `redis://default:${SENTINEL}@redis:6379` }, 'config.REDIS_URL holds a password'],
      [{ 'config.SCHEMA_REGISTRY_URL': `https://kscore:${SENTINEL}@registry/apis/ccompat/v7` }, 'config.SCHEMA_REGISTRY_URL holds a password'],
    ];
    for (const [set, message] of attempts) {
      const r = await template({ set });
      expect(r.code, JSON.stringify(set)).not.toBe(0);
      expect(r.stderr).toContain(message);
      expect(r.stdout).not.toContain(SENTINEL);
    }
  });

  it('checks the Kafka security settings: SASL needs a mechanism, a username and a password Secret', async () => {
    const sasl = { 'config.KSCORE_KAFKA_SECURITY_PROTOCOL': 'sasl_ssl' };
    // values.schema.json refuses values of the wrong shape first; the templates check them again
    // (a render with --skip-schema-validation), with everything the schema cannot express.
    const schemaCases: [Record<string, string>, string, string][] = [
      [{ 'config.KSCORE_KAFKA_SECURITY_PROTOCOL': 'tls' }, "at '/config/KSCORE_KAFKA_SECURITY_PROTOCOL': value must be one of", 'must be plaintext, ssl, sasl_plaintext or sasl_ssl, not "tls"'],
      [{ 'config.KSCORE_KAFKA_CLIENT': 'sarama' }, "at '/config/KSCORE_KAFKA_CLIENT': value must be one of", 'KSCORE_KAFKA_CLIENT must be kafkajs or librdkafka'],
      [{ 'secrets.kafkaPassword.existingSecret': 'x' }, "additional properties 'kafkaPassword' not allowed", 'secrets.kafkaPassword is not a secret setting'],
      [{ 'config.kafka_brokers': 'x:1' }, "'kafka_brokers' does not match pattern", 'config.kafka_brokers: settings are environment variables'],
    ];
    for (const [set, bySchema, byTemplate] of schemaCases) {
      const r = await template({ set });
      expect(r.code, JSON.stringify(set)).not.toBe(0);
      expect(r.stderr).toContain(bySchema);
      const t = await template({ set, skipSchema: true });
      expect(t.code, JSON.stringify(set)).not.toBe(0);
      expect(t.stderr).toContain(byTemplate);
    }
    const cases: [Record<string, string>, string][] = [
      [sasl, 'KSCORE_KAFKA_SASL_MECHANISM must be plain, scram-sha-256, scram-sha-512 or oauthbearer'],
      [{ ...sasl, 'config.KSCORE_KAFKA_SASL_MECHANISM': 'scram-sha-512' }, 'needs config.KSCORE_KAFKA_SASL_USERNAME'],
      [{ ...sasl, 'config.KSCORE_KAFKA_SASL_MECHANISM': 'plain', 'config.KSCORE_KAFKA_SASL_USERNAME': 'u' }, 'set secrets.kafkaSaslPassword.existingSecret'],
      [{ 'config.KSCORE_KAFKA_SASL_MECHANISM': 'plain' }, 'use sasl_plaintext or sasl_ssl'],
      [{ 'secrets.kafkaTlsCert.existingSecret': 'client' }, 'secrets.kafkaTlsCert and secrets.kafkaTlsKey go together'],
      [{ 'config.KSCORE_HTTP_HOST': '127.0.0.1' }, 'config.KSCORE_HTTP_HOST is set by the chart'],
      [{ 'config.KSCORE_HTTP_PORT': '0' }, 'config.KSCORE_HTTP_PORT must be a port from 1 to 65535'],
    ];
    for (const [set, message] of cases) {
      const r = await template({ set });
      expect(r.code, JSON.stringify(set)).not.toBe(0);
      expect(r.stderr).toContain(message);
    }
    const ok = await render({
      set: {
        ...sasl,
        'config.KSCORE_KAFKA_SASL_MECHANISM': 'scram-sha-256',
        'config.KSCORE_KAFKA_SASL_USERNAME': 'kscore',
        'config.KSCORE_KAFKA_CLIENT': 'librdkafka',
        'secrets.kafkaSaslPassword.existingSecret': 'kafka',
      },
    });
    expect(only(ok.objects, 'ConfigMap').data).toMatchObject({ KSCORE_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KSCORE_KAFKA_CLIENT: 'librdkafka' });
  });
});

describe('Services', () => {
  it('publishes not-ready pods on the admin Service, so the first model can be registered while /readyz is 503', async () => {
    const { objects } = await render();
    const main = only(objects, 'Service', 'kscore');
    const admin = only(objects, 'Service', 'kscore-admin');
    expect(admin.spec.publishNotReadyAddresses).toBe(true);
    expect(main.spec.publishNotReadyAddresses).toBeUndefined();
    const deployment = only(objects, 'Deployment');
    const podLabels = deployment.spec.template.metadata.labels;
    for (const svc of [main, admin]) {
      expect(svc.spec.ports).toEqual([{ name: 'http', port: 18080, targetPort: 'http', protocol: 'TCP' }]);
      for (const [k, v] of Object.entries(svc.spec.selector as Record<string, string>)) expect(podLabels[k]).toBe(v);
    }
    // The replay Job's pods carry another component label: no Service, PDB or Deployment selects them.
    const withJob = await render({ set: { 'replayJob.enabled': true, 'replayJob.jobId': 'x' } });
    const jobLabels = only(withJob.objects, 'Job').spec.template.metadata.labels;
    const selects = (sel: Record<string, string>): boolean => Object.entries(sel).every(([k, v]) => jobLabels[k] === v);
    expect(selects(main.spec.selector)).toBe(false);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(false);
    expect(selects(only(objects, 'PodDisruptionBudget').spec.selector.matchLabels)).toBe(false);
    expect(only(objects, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
  });
});

describe('NOTES.txt', () => {
  /** NOTES.txt as `helm install` would print it: `helm template` leaves it out, so a copy of the
   * chart renders it as an ordinary template (printed by --debug although it is no YAML). */
  async function notes(set: Record<string, string | number | boolean>, files: string[] = []): Promise<string> {
    const copy = join(work, `notes-${Math.random().toString(36).slice(2)}`);
    await cp(CHART_DIR, copy, { recursive: true });
    await rename(join(copy, 'templates/NOTES.txt'), join(copy, 'templates/zz-notes.txt'));
    const args = ['template', 'kscore', copy, '--namespace', NAMESPACE, '--debug', ...files.flatMap((f) => ['--values', f])];
    for (const [k, v] of Object.entries(set)) args.push('--set', `${k}=${String(v)}`);
    const r = await runTool(HELM, args);
    const text = `${r.stdout}${r.stderr}`;
    const start = text.indexOf('# Source: kscore/templates/zz-notes.txt\n');
    expect(start, text).toBeGreaterThanOrEqual(0);
    return text.slice(start).split('\n---')[0]!;
  }

  it('tells how to register the first model through the admin Service, and warns about what would not work', async () => {
    const plain = await notes({ replicaCount: 4 });
    expect(plain).toContain(`kubectl -n ${NAMESPACE} port-forward svc/kscore-admin 18080:18080`);
    expect(plain).toContain("'http://127.0.0.1:18080/api/v1/models/demo/versions?features=a,b,c&alias=production'");
    expect(plain).toContain('secrets.apiTokens names no Secret, so the admin API refuses every call');
    expect(plain).toContain('4 replicas share no model store');
    expect(plain).toContain('replicaCount 4 is above topicPartitions 3: 1 replica(s) will get no partition');
    const production = await notes({ 'replayJob.enabled': true, 'replayJob.jobId': 'b1' }, [PRODUCTION]);
    expect(production).toContain('/api/v1/models/churn/versions');
    expect(production).not.toContain('names no Secret');
    expect(production).not.toContain('share no model store');
    expect(production).toContain('KEDA scales kscore from 3 to 6 replicas');
    expect(production).toContain(`kubectl -n ${NAMESPACE} logs -l kscore-replay-job-id=b1 --prefix`);
  });
});

describe('KEDA', () => {
  it('scales on the consumer group lag of the features topic, at most topicPartitions replicas', async () => {
    const { objects } = await render({ files: [PRODUCTION] });
    const production = parse(await readFile(PRODUCTION, 'utf8')) as any;
    const so = only(objects, 'ScaledObject');
    expect(so.apiVersion).toBe('keda.sh/v1alpha1');
    // The CRD's fields, checked by hand: kubernetes-validate has no schema for it.
    const allowed = ['scaleTargetRef', 'pollingInterval', 'cooldownPeriod', 'initialCooldownPeriod', 'idleReplicaCount', 'minReplicaCount', 'maxReplicaCount', 'advanced', 'fallback', 'triggers'];
    for (const key of Object.keys(so.spec)) expect(allowed).toContain(key);
    expect(so.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: only(objects, 'Deployment').metadata.name });
    expect(so.spec.triggers).toHaveLength(1);
    const [trigger] = so.spec.triggers;
    expect(trigger.type).toBe('kafka');
    // KEDA's trigger metadata is a map of strings.
    for (const value of Object.values(trigger.metadata)) expect(typeof value).toBe('string');
    expect(trigger.metadata).toMatchObject({
      bootstrapServers: production.config.KAFKA_BROKERS,
      consumerGroup: production.config.KSCORE_GROUP_ID,
      topic: production.config.KSCORE_FEATURES_TOPIC,
      lagThreshold: String(production.keda.lagThreshold),
      sasl: 'scram_sha512',
      tls: 'enable',
    });
    expect(so.spec.maxReplicaCount).toBe(production.keda.maxReplicaCount);
    expect(so.spec.maxReplicaCount).toBeLessThanOrEqual(production.topicPartitions);
    expect(so.spec.minReplicaCount).toBeLessThanOrEqual(so.spec.maxReplicaCount);
    expect(Number.isInteger(so.spec.pollingInterval) && Number.isInteger(so.spec.cooldownPeriod)).toBe(true);

    // Its TriggerAuthentication takes the username from the container's environment and the
    // password and CA from the same Secrets as the service.
    const auth = only(objects, 'TriggerAuthentication', trigger.authenticationRef.name);
    expect(Object.keys(auth.spec).sort()).toEqual(['env', 'secretTargetRef']);
    expect(auth.spec.env).toEqual([{ parameter: 'username', name: 'KSCORE_KAFKA_SASL_USERNAME', containerName: 'kscore' }]);
    expect(only(objects, 'Deployment').spec.template.spec.containers[0].name).toBe('kscore');
    expect(auth.spec.secretTargetRef).toEqual([
      { parameter: 'password', name: production.secrets.kafkaSaslPassword.existingSecret, key: production.secrets.kafkaSaslPassword.key },
      { parameter: 'ca', name: production.secrets.kafkaTlsCa.existingSecret, key: production.secrets.kafkaTlsCa.key },
    ]);
  });

  it('fails the render when maxReplicaCount is above topicPartitions, and passes at equal', async () => {
    const over = await template({ files: [PRODUCTION], set: { 'keda.maxReplicaCount': 7 } });
    expect(over.code).not.toBe(0);
    expect(over.stderr).toContain('keda.maxReplicaCount (7) is above topicPartitions (6)');
    expect(over.stdout).toBe('');
    const equal = await render({ set: { 'keda.enabled': true, 'keda.maxReplicaCount': 5, topicPartitions: 5 } });
    expect(only(equal.objects, 'ScaledObject').spec.maxReplicaCount).toBe(5);
    // Plaintext brokers: no TriggerAuthentication, no authenticationRef.
    expect(equal.objects.some((o) => o.kind === 'TriggerAuthentication')).toBe(false);
    expect(only(equal.objects, 'ScaledObject').spec.triggers[0].authenticationRef).toBeUndefined();
    const min = await template({ set: { 'keda.enabled': true, 'keda.minReplicaCount': 3, 'keda.maxReplicaCount': 2 } });
    expect(min.stderr).toContain('keda.minReplicaCount (3) must be from 0 to keda.maxReplicaCount (2)');
  });

  it('leaves the HPA out when KEDA scales, and refuses both at once', async () => {
    const hpa = await render({ set: { 'autoscaling.enabled': true } });
    expect(only(hpa.objects, 'HorizontalPodAutoscaler').spec.scaleTargetRef.name).toBe('kscore');
    expect(only(hpa.objects, 'Deployment').spec.replicas).toBeUndefined();
    const both = await template({ set: { 'autoscaling.enabled': true, 'keda.enabled': true } });
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('keda.enabled and autoscaling.enabled are both true');
  });
});

describe('Prometheus Operator', () => {
  it('ServiceMonitor: scrapes /metrics through the admin Service with job="kscore", as the alert rules expect', async () => {
    const { objects } = await render({ files: [PRODUCTION] });
    const sm = only(objects, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(Object.keys(sm.spec).sort()).toEqual(['endpoints', 'jobLabel', 'namespaceSelector', 'selector']);
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
    const services = objects.filter((o) => o.kind === 'Service');
    const selected = services.filter((s) => Object.entries(sm.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => s.metadata.labels?.[k] === v));
    expect(selected.map((s) => s.metadata.name)).toEqual(['kscore-admin']);
    const [svc] = selected;
    expect(svc!.spec.publishNotReadyAddresses).toBe(true);
    expect(sm.spec.endpoints).toHaveLength(1);
    expect(svc!.spec.ports.map((p: any) => p.name)).toContain(sm.spec.endpoints[0].port);
    expect(sm.spec.endpoints[0].path).toBe('/metrics');
    expect(svc!.metadata.labels![sm.spec.jobLabel]).toBe('kscore');
    const alerts = await readFile(ALERTS_FILE, 'utf8');
    expect(alerts).toContain('up{job="kscore"}');
    expect(sm.metadata.labels).toMatchObject({ release: 'prometheus' });
  });

  it('PrometheusRule: the rules of deploy/prometheus/alerts.yml exactly, and promtool accepts them', async () => {
    const { objects } = await render({ files: [PRODUCTION] });
    const rule = only(objects, 'PrometheusRule');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(Object.keys(rule.spec)).toEqual(['groups']);
    const original = parse(await readFile(ALERTS_FILE, 'utf8')) as { groups: unknown[] };
    expect(rule.spec.groups).toEqual(original.groups);
    for (const group of rule.spec.groups) {
      expect(typeof group.name).toBe('string');
      for (const r of group.rules) {
        expect(typeof r.expr).toBe('string');
        expect(typeof r.alert === 'string' || typeof r.record === 'string').toBe(true);
      }
    }
    const file = join(work, 'prometheusrule.yml');
    await writeFile(file, JSON.stringify({ groups: rule.spec.groups }));
    const check = await runTool(PROMTOOL_BIN, ['check', 'rules', file]);
    expect(check.code, `${check.stdout}${check.stderr}`).toBe(0);
    expect(check.stdout).toContain('SUCCESS: 8 rules found');
  });

  it("PrometheusRule: follows KSCORE_MODEL_ALIAS in the live-model rules, and nothing else changes", async () => {
    const { objects } = await render({ set: { 'metrics.prometheusRule.enabled': true, 'config.KSCORE_MODEL_ALIAS': 'champion' } });
    const rules = only(objects, 'PrometheusRule').spec.groups[0].rules;
    const original = (parse(await readFile(ALERTS_FILE, 'utf8')) as any).groups[0].rules;
    expect(rules.map((r: any) => r.alert)).toEqual(original.map((r: any) => r.alert));
    const changed = rules.filter((r: any, i: number) => !isDeepStrictEqual(r, original[i])).map((r: any) => r.alert);
    expect(changed).toEqual(['KscoreNoLiveModel', 'KscoreReplicaWithoutLiveModel']);
    for (const r of rules.filter((x: any) => changed.includes(x.alert))) {
      expect(r.expr).toContain('alias="champion"');
      expect(r.expr).not.toContain('alias="production"');
    }
  });

  it('a broken rule copy in the chart would fail promtool, so its pass means something', async () => {
    const file = join(work, 'broken.yml');
    await writeFile(file, (await readFile(ALERTS_FILE, 'utf8')).replace('> 0.2', '> > 0.2'));
    const check = await runTool(PROMTOOL_BIN, ['check', 'rules', file]);
    expect(check.code).not.toBe(0);
  });
});

describe('the replay Job', () => {
  it('renders an Indexed Job of N shards running `kscore replay --shard $(JOB_COMPLETION_INDEX)/N --job-id ...`', async () => {
    const { objects } = await render({
      files: [PRODUCTION],
      set: {
        'replayJob.enabled': true,
        'replayJob.jobId': 'backfill-2026-11-26',
        'replayJob.shards': 5,
        'replayJob.source.topic': 'features.archive',
        'replayJob.from.time': '2026-11-26T00:00:00Z',
        'replayJob.to.offset': '0:9000,1:4000',
        'replayJob.model.name': 'churn',
        'replayJob.model.alias': 'candidate',
        'replayJob.output.topic': 'predictions.backfill',
        'replayJob.threads': 3,
      },
    });
    const job = only(objects, 'Job', 'kscore-replay-backfill-2026-11-26');
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 5, parallelism: 5, backoffLimitPerIndex: 2 });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.enableServiceLinks).toBe(false);
    const [c] = pod.containers;
    const cmd = await dockerfileCmd();
    expect(cmd.at(-1)).toBe('serve');
    expect(c.command).toEqual(cmd.slice(0, -1));
    expect(c.args).toEqual([
      'replay',
      '--shard', '$(JOB_COMPLETION_INDEX)/5',
      '--job-id', 'backfill-2026-11-26',
      '--topic', 'features.archive',
      '--from-time', '2026-11-26T00:00:00Z',
      '--to-offset', '0:9000,1:4000',
      '--model', 'churn',
      '--alias', 'candidate',
      '--output-topic', 'predictions.backfill',
      '--threads', '3',
    ]);
    // $(JOB_COMPLETION_INDEX) resolves from the container's own environment.
    expect(c.env[0]).toEqual({ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } });
    // Same settings and secrets as the service, less the admin API's tokens.
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'kscore' } }]);
    const files = secretFilesOf(c);
    expect(files['KSCORE_KAFKA_SASL_PASSWORD_FILE']).toBeDefined();
    expect(files['KSCORE_API_TOKENS_FILE']).toBeUndefined();
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    const v = await kubeValidate([job], KUBE_VERSION);
    expect(v.code, v.output).toBe(0);
    expect(v.passed).toEqual(['job']);
  });

  it('is off by default, and refuses a missing job id and contradictory parameters', async () => {
    const { objects } = await render();
    expect(objects.some((o) => o.kind === 'Job')).toBe(false);
    const on = { 'replayJob.enabled': true, 'replayJob.jobId': 'j1' };
    const cases: [Record<string, string | number | boolean>, string][] = [
      [{ 'replayJob.enabled': true }, 'replayJob.jobId must be 1 to 40 lowercase letters'],
      [{ ...on, 'replayJob.jobId': 'Backfill_1' }, 'replayJob.jobId must be'],
      [{ ...on, 'replayJob.shards': 0 }, "at '/replayJob/shards': minimum: got 0, want 1"],
      [{ ...on, 'replayJob.from.time': '2026-01-01T00:00:00Z', 'replayJob.from.offset': '0' }, 'replayJob.from: give time or offset'],
      [{ ...on, 'replayJob.model.version': '3', 'replayJob.model.alias': 'x' }, 'replayJob.model: give version or alias'],
    ];
    for (const [set, message] of cases) {
      const r = await template({ set });
      expect(r.code, JSON.stringify(set)).not.toBe(0);
      expect(r.stderr).toContain(message);
    }
    const dlq = await render({ set: { ...on, 'replayJob.source.fromDeadLetters': true, 'replayJob.shards': 2 } });
    const args = only(dlq.objects, 'Job').spec.template.spec.containers[0].args;
    expect(args).toContain('--from-dead-letters');
    expect(args).not.toContain('--topic');
    expect(only(dlq.objects, 'Job').spec.completions).toBe(2);
  });
});
