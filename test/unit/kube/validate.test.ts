// The checks every converted object passes (validate.ts) catch what the schemas alone let through.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeExpansion } from '../../../src/kube/convert.js';
import { bytesQuantity, cpuQuantity, isQuantity, toDnsLabel } from '../../../src/kube/names.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { validateObjects } from '../../../src/kube/validate.js';

const deployment = (patch: (d: Record<string, unknown>) => void = () => {}): KubeObject => {
  const d: Record<string, unknown> = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { 'app.kubernetes.io/name': 'web' } },
    spec: { replicas: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } }, template: { metadata: { labels: { 'app.kubernetes.io/name': 'web' } },
      spec: { containers: [{ name: 'web', image: 'nginx', resources: { limits: { memory: '64Mi' } } }] } } },
  };
  patch(d);
  return d as unknown as KubeObject;
};
const container = (d: Record<string, unknown>): Record<string, unknown> => ((((d['spec'] as Record<string, unknown>)['template'] as Record<string, unknown>)['spec'] as Record<string, unknown>)['containers'] as Record<string, unknown>[])[0]!;

test('a valid Deployment has no problems', async () => {
  assert.deepEqual(await validateObjects([deployment()]), []);
});

test('an unknown field anywhere is found, with its path (the schemas alone accept it)', async () => {
  const p = await validateObjects([deployment((d) => { container(d)['imagePullPolicyy'] = 'Always'; (d['spec'] as Record<string, unknown>)['replica'] = 2; })]);
  assert.deepEqual(p.map((x) => `${x.path}: ${x.message}`).sort(), ['spec.replica: unknown field', 'spec.template.spec.containers[0].imagePullPolicyy: unknown field']);
});

test('labels and annotations are maps: any key is known, but keys and values must be valid', async () => {
  const p = await validateObjects([deployment((d) => { (d['metadata'] as Record<string, unknown>)['labels'] = { 'ok.example/x': 'fine', 'bad key': 'v', k: 'not valid!' }; })]);
  assert.deepEqual(p.map((x) => x.path).sort(), ['metadata.labels.bad key', 'metadata.labels.k']);
});

test('schema errors, bad names and bad quantities are reported', async () => {
  const p = await validateObjects([
    deployment((d) => { (d['spec'] as Record<string, unknown>)['replicas'] = 'two'; }),
    deployment((d) => { (d['metadata'] as Record<string, unknown>)['name'] = 'Web_1'; container(d)['resources'] = { limits: { memory: '64 MB' } }; }),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: '1web', labels: {} }, spec: { clusterIP: 'None' } } as unknown as KubeObject,
  ]);
  assert.ok(p.some((x) => x.object === 'Deployment/web' && x.message.startsWith('schema:')));
  assert.ok(p.some((x) => x.object === 'Deployment/Web_1' && x.path === 'metadata.name'));
  assert.ok(p.some((x) => x.path === 'spec.template.spec.containers[0].resources.limits.memory' && /not a quantity/.test(x.message)));
  assert.ok(p.some((x) => x.object === 'Service/1web' && /DNS-1035/.test(x.message)));
});

test('names, quantities and $(VAR) escapes', () => {
  assert.equal(toDnsLabel('api_server.v2'), 'api-server-v2');
  assert.equal(toDnsLabel('9lives'), 'lives');
  assert.equal(bytesQuantity(32 * 2 ** 20), '32Mi');
  assert.equal(bytesQuantity(1000), '1000');
  assert.equal(cpuQuantity(0.25), '250m');
  assert.equal(cpuQuantity(2), '2');
  for (const q of ['1Gi', '500m', '1e3', '0.5']) assert.ok(isQuantity(q), q);
  for (const q of ['1 Gi', '1GB', 'Gi', '1.5.5']) assert.ok(!isQuantity(q), q);
  assert.equal(escapeExpansion('echo $(date) $HOME $$'), 'echo $$(date) $HOME $$$');
});
