// `gantry stack deploy --to kubernetes` against an in-process fake API server (test/fakes/fake-kube-api.ts),
// through the real client (@kubernetes/client-node): discovery, the server-side apply requests (URL,
// fieldManager, force, dryRun, content type), prune by the project label, the rollout driven by the statuses the
// fake serves, and the errors a user reads.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { deployCommand, type DeployArgs } from '../../../src/cli/commands/stack-kube.js';
import { GantryError } from '../../../src/common/errors.js';
import { FakeKubeApi } from '../../fakes/fake-kube-api.js';

const tmp = mkdtempSync(join(tmpdir(), 'gantry-kube-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const STACK = `name: shop
services:
  db:
    image: postgres:16
    volumes: [pgdata:/var/lib/postgresql/data]
    expose: ["5432"]
    healthcheck: { test: ["CMD", "pg_isready"], interval: 2s }
  migrate:
    image: registry.example.com/shop/api:1
    build: .
    command: ["migrate"]
    depends_on: { db: { condition: service_healthy } }
  api:
    image: registry.example.com/shop/api:1
    deploy: { replicas: 2 }
    ports: ["8080:8080"]
    depends_on: { migrate: { condition: service_completed_successfully } }
volumes:
  pgdata: {}
`;

let n = 0;
function project(stack = STACK): string {
  const dir = join(tmp, `p${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'compose.yaml'), stack);
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\n');
  return dir;
}

/** Statuses like a cluster's: a workload is ready on its 2nd read, a Job complete on its 2nd. */
function healthy(obj: { kind: string; metadata: { generation?: number }; spec?: unknown }, reads: number): Record<string, unknown> | undefined {
  const replicas = ((obj.spec ?? {}) as { replicas?: number }).replicas ?? 1;
  const g = obj.metadata.generation ?? 1;
  if (obj.kind === 'Deployment') return reads < 2 ? { observedGeneration: g, replicas, updatedReplicas: replicas, availableReplicas: 0 } : { observedGeneration: g, replicas, updatedReplicas: replicas, availableReplicas: replicas };
  if (obj.kind === 'StatefulSet') return { observedGeneration: g, replicas, readyReplicas: reads < 2 ? 0 : replicas };
  if (obj.kind === 'Job') return reads < 2 ? { active: 1 } : { conditions: [{ type: 'Complete', status: 'True' }], succeeded: 1 };
  return undefined;
}

async function deploy(fake: FakeKubeApi, dir: string, extra: Partial<DeployArgs> = {}): Promise<{ status: number | undefined; err: string; error: unknown }> {
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, fake.kubeconfig());
  let err = '';
  try {
    const status = await deployCommand({ files: [], projectName: undefined, projectDirectory: undefined, profiles: [], envFiles: [], strict: false, cwd: dir, env: {},
      to: 'kubernetes', namespace: undefined, storageClass: undefined, volumeSize: undefined, ingressHost: undefined, context: undefined, kubeconfig,
      dryRun: undefined, prune: false, timeout: undefined, pollMs: 0, stderr: { write: (s: string) => { err += s; } }, ...extra });
    return { status, err, error: undefined };
  } catch (e) {
    return { status: undefined, err, error: e };
  }
}

const applies = (f: FakeKubeApi): { path: string; query: URLSearchParams; contentType: string | undefined; body: unknown }[] => f.requests.filter((r) => r.method === 'PATCH');

test('deploy applies every object by server-side apply, Jobs before what needs them, and waits for the rollout', async () => {
  const fake = new FakeKubeApi({ status: healthy });
  await fake.start();
  try {
    const r = await deploy(fake, project());
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.status, 0);
    const patches = applies(fake);
    assert.deepEqual(patches.map((p) => p.path), [
      '/api/v1/namespaces/team/persistentvolumeclaims/pgdata',
      '/api/v1/namespaces/team/services/api', '/api/v1/namespaces/team/services/api-public', '/api/v1/namespaces/team/services/db', '/api/v1/namespaces/team/services/migrate',
      '/apis/apps/v1/namespaces/team/statefulsets/db', '/apis/batch/v1/namespaces/team/jobs/migrate',
      '/apis/apps/v1/namespaces/team/deployments/api',
    ]);
    for (const p of patches) {
      assert.equal(p.contentType, 'application/apply-patch+yaml');
      assert.equal(p.query.get('fieldManager'), 'gantry');
      assert.equal(p.query.get('force'), 'true');
      assert.equal(p.query.get('dryRun'), null);
      const meta = (p.body as { metadata: { labels: Record<string, string>; namespace: string } }).metadata;
      assert.equal(meta.labels['gantry.project'], 'shop');
      assert.equal(meta.namespace, 'team');
    }
    // The body is the converted object itself: the client's serializer dropped or renamed nothing.
    const { loadAndConvert } = await import('../../../src/cli/commands/stack-kube.js');
    const dir2 = project();
    const { result } = await loadAndConvert({ files: [], projectName: undefined, projectDirectory: undefined, profiles: [], envFiles: [], strict: false, cwd: dir2, env: {}, stderr: { write: () => true } }, { namespace: 'team' });
    const plural = (kind: string): string => (kind === 'PersistentVolumeClaim' ? 'persistentvolumeclaims' : `${kind.toLowerCase()}s`);
    // (the Namespace object only with --namespace: the context's namespace is not the stack's)
    const objects = result.objects.filter((o) => o.kind !== 'Namespace');
    assert.equal(objects.length, patches.length);
    for (const o of objects) {
      const sent = patches.find((p) => p.path.endsWith(`/${plural(o.kind)}/${o.metadata.name}`));
      assert.deepEqual(sent?.body, JSON.parse(JSON.stringify(o)), `${o.kind}/${o.metadata.name} is sent as converted`);
    }
    // Discovery told the client where each kind lives.
    for (const gv of ['/api/v1', '/apis/apps/v1', '/apis/batch/v1']) assert.ok(fake.requests.some((q) => q.method === 'GET' && q.path === gv), `discovery of ${gv}`);
    // The api Deployment was applied only once the migrate Job had completed.
    const jobDone = fake.requests.findIndex((q, i) => q.method === 'GET' && q.path.endsWith('/jobs/migrate') && fake.requests.slice(0, i).filter((x) => x.method === 'GET' && x.path.endsWith('/jobs/migrate')).length === 1);
    const apiApply = fake.requests.findIndex((q) => q.method === 'PATCH' && q.path.endsWith('/deployments/api'));
    assert.ok(jobDone >= 0 && apiApply > jobDone, 'api is applied after the Job completed');
    assert.match(r.err, /^Job\/migrate: 1 active, 0 failed$/m);
    assert.match(r.err, /^Job\/migrate: complete$/m);
    assert.match(r.err, /^Deployment\/api: 0\/2 available, 2\/2 updated$/m);
    assert.match(r.err, /^Deployment\/api: available$/m);
    assert.match(r.err, /^StatefulSet\/db: ready$/m);
    assert.match(r.err, /push it first/);
  } finally {
    await fake.stop();
  }
});

test('--dry-run=server sends dryRun=All, stores nothing and waits for nothing; --dry-run=client sends no change', async () => {
  const fake = new FakeKubeApi({ status: healthy });
  await fake.start();
  try {
    const r = await deploy(fake, project(), { dryRun: 'server' });
    assert.equal(r.status, 0, String(r.error));
    assert.equal(applies(fake).length, 8);
    assert.ok(applies(fake).every((p) => p.query.get('dryRun') === 'All'));
    assert.equal(fake.objects.size, 0);
    assert.ok(!fake.requests.some((q) => q.method === 'GET' && /\/(deployments|statefulsets|jobs)\//.test(q.path)), 'no rollout wait');
    fake.requests.length = 0;
    const c = await deploy(fake, project(), { dryRun: 'client' });
    assert.equal(c.status, 0, String(c.error));
    assert.ok(fake.requests.every((q) => q.method === 'GET'), 'only reads');
    assert.match(c.err, /Deployment\/api: would be applied \(client dry run\)/);
  } finally {
    await fake.stop();
  }
});

test('--prune deletes the project\'s objects the stack no longer has, keeps claims and other projects\' objects', async () => {
  const fake = new FakeKubeApi({ status: healthy });
  await fake.start();
  const ours = { 'gantry.project': 'shop', 'app.kubernetes.io/managed-by': 'gantry' };
  fake.seed({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'old-worker', namespace: 'team', labels: ours } });
  fake.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'old-conf', namespace: 'team', labels: ours } });
  fake.seed({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'old-data', namespace: 'team', labels: ours } });
  fake.seed({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'theirs', namespace: 'team', labels: { 'gantry.project': 'other', 'app.kubernetes.io/managed-by': 'gantry' } } });
  fake.seed({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'handmade', namespace: 'team' } });
  try {
    const r = await deploy(fake, project(), { prune: true });
    assert.equal(r.status, 0, String(r.error));
    const deletes = fake.requests.filter((q) => q.method === 'DELETE').map((q) => q.path);
    assert.deepEqual(deletes.sort(), ['/api/v1/namespaces/team/configmaps/old-conf', '/apis/apps/v1/namespaces/team/deployments/old-worker']);
    const lists = fake.requests.filter((q) => q.method === 'GET' && q.query.has('labelSelector'));
    assert.ok(lists.length >= 8 && lists.every((q) => q.query.get('labelSelector') === 'gantry.project=shop,app.kubernetes.io/managed-by=gantry'));
    assert.ok(fake.objects.has(FakeKubeApi.key('apps/v1', 'Deployment', 'team', 'theirs')));
    assert.ok(fake.objects.has(FakeKubeApi.key('v1', 'PersistentVolumeClaim', 'team', 'old-data')));
    assert.match(r.err, /PersistentVolumeClaim\/old-data: kept/);
    assert.match(r.err, /Deployment\/old-worker: pruned/);
  } finally {
    await fake.stop();
  }
});

test('a failed Job stops the deploy with an error naming it and its condition; what needs it is not applied', async () => {
  const fake = new FakeKubeApi({
    status: (o, reads) => (o.kind === 'Job' ? { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] } : healthy(o, reads)),
  });
  await fake.start();
  try {
    const r = await deploy(fake, project());
    assert.ok(r.error instanceof GantryError);
    assert.equal(r.error.code, 'KUBE_ROLLOUT_FAILED');
    assert.match(r.error.message, /^Job\/migrate in namespace team failed: Failed=True \(BackoffLimitExceeded\): Job has reached the specified backoff limit$/);
    assert.match(r.error.hint ?? '', /describe job\/migrate/);
    assert.ok(!applies(fake).some((p) => p.path.endsWith('/deployments/api')));
  } finally {
    await fake.stop();
  }
});

test('a Deployment whose progress deadline passed is an error naming its Progressing condition', async () => {
  const fake = new FakeKubeApi({
    status: (o, reads) => (o.kind === 'Deployment' ? { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 0, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "api-5d9" has timed out progressing.' }] } : healthy(o, reads)),
  });
  await fake.start();
  try {
    const r = await deploy(fake, project());
    assert.ok(r.error instanceof GantryError);
    assert.match(r.error.message, /^Deployment\/api in namespace team failed: Progressing=False \(ProgressDeadlineExceeded\)/);
  } finally {
    await fake.stop();
  }
});

test('an apply the server refuses is an error naming the object, the status and what to do', async () => {
  const fake = new FakeKubeApi({ status: healthy, failApply: (o) => (o.kind === 'Service' && o.metadata.name === 'db' ? { code: 403, reason: 'Forbidden', message: 'services "db" is forbidden: User "tester" cannot patch resource "services"' } : undefined) });
  await fake.start();
  try {
    const r = await deploy(fake, project());
    assert.ok(r.error instanceof GantryError);
    assert.equal(r.error.code, 'KUBE_API_ERROR');
    assert.match(r.error.message, /^applying Service\/db in namespace team: services "db" is forbidden: .* \(HTTP 403 Forbidden\)$/);
    assert.match(r.error.hint ?? '', /role/);
  } finally {
    await fake.stop();
  }
});

test('a locally built image without a registry refuses the deploy before any request', async () => {
  const fake = new FakeKubeApi({ status: healthy });
  await fake.start();
  try {
    const r = await deploy(fake, project('name: local\nservices:\n  app:\n    build: .\n'));
    assert.ok(r.error instanceof GantryError);
    assert.equal(r.error.code, 'KUBE_IMAGE_NOT_PUSHED');
    assert.match(r.error.message, /service "app" builds its image "local-app" locally/);
    assert.match(r.error.hint ?? '', /gantry stack push/);
    assert.equal(applies(fake).length, 0);
  } finally {
    await fake.stop();
  }
});

test('--context picks another context (its namespace: default); an unknown one is an error listing the contexts', async () => {
  const fake = new FakeKubeApi({ status: healthy });
  await fake.start();
  try {
    const r = await deploy(fake, project(), { context: 'other-ctx', dryRun: 'server' });
    assert.equal(r.status, 0, String(r.error));
    assert.ok(applies(fake).every((p) => p.path.includes('/namespaces/default/')));
    const bad = await deploy(fake, project(), { context: 'nope' });
    assert.ok(bad.error instanceof GantryError);
    assert.equal(bad.error.code, 'KUBE_CONFIG_INVALID');
    assert.match(bad.error.hint ?? '', /fake-ctx, other-ctx/);
  } finally {
    await fake.stop();
  }
});

test('--namespace applies the Namespace first (cluster-scoped) and puts every object in it', async () => {
  const fake = new FakeKubeApi({ status: healthy });
  await fake.start();
  try {
    const r = await deploy(fake, project(), { namespace: 'shop-prod' });
    assert.equal(r.status, 0, String(r.error));
    const paths = applies(fake).map((p) => p.path);
    assert.equal(paths[0], '/api/v1/namespaces/shop-prod');
    assert.ok(paths.slice(1).every((p) => p.includes('/namespaces/shop-prod/')));
    assert.match(r.err, /namespace shop-prod/);
  } finally {
    await fake.stop();
  }
});

test('a Job whose pod template changed is replaced: the server refuses the apply as immutable, deploy deletes and applies it again', async () => {
  let fake: FakeKubeApi;
  fake = new FakeKubeApi({
    status: healthy,
    failApply: (o) => {
      if (o.kind !== 'Job') return undefined;
      const live = fake.objects.get(FakeKubeApi.key('batch/v1', 'Job', 'team', o.metadata.name));
      return live !== undefined && JSON.stringify(live['spec']) !== JSON.stringify(o['spec']) ? { code: 422, reason: 'Invalid', message: 'Job.batch "migrate" is invalid: spec.template: Invalid value: field is immutable' } : undefined;
    },
  });
  await fake.start();
  try {
    const dir = project();
    assert.equal((await deploy(fake, dir)).status, 0);
    writeFileSync(join(dir, 'compose.yaml'), STACK.replace('command: ["migrate"]', 'command: ["migrate", "--v2"]'));
    fake.requests.length = 0;
    const r = await deploy(fake, dir);
    assert.equal(r.status, 0, String(r.error));
    const jobCalls = fake.requests.filter((q) => q.path === '/apis/batch/v1/namespaces/team/jobs/migrate' && q.method !== 'GET').map((q) => q.method);
    assert.deepEqual(jobCalls, ['PATCH', 'DELETE', 'PATCH']);
    assert.match(r.err, /Job\/migrate: its pod template changed, replacing the Job/);
    const job = fake.objects.get(FakeKubeApi.key('batch/v1', 'Job', 'team', 'migrate'));
    assert.match(JSON.stringify(job), /--v2/);
  } finally {
    await fake.stop();
  }
});
