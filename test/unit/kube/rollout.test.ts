// The rollout rules (rollout.ts) and deploy's timeout, on a fake clock and an in-memory KubeApi.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeApi } from '../../../src/kube/api.js';
import { deployObjects } from '../../../src/kube/deploy.js';
import { rolloutState } from '../../../src/kube/rollout.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { GantryError } from '../../../src/common/errors.js';

const obj = (kind: string, spec: Record<string, unknown>, status: Record<string, unknown>, generation = 2): KubeObject =>
  ({ apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1', kind, metadata: { name: 'x', labels: {}, generation } as never, spec, status }) as unknown as KubeObject;

test('a Deployment is done when the newest generation is observed and every replica is updated and available', () => {
  assert.equal(rolloutState(obj('Deployment', { replicas: 2 }, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })).state, 'waiting', 'old generation');
  assert.equal(rolloutState(obj('Deployment', { replicas: 2 }, { observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 })).state, 'waiting', 'an old pod is still there');
  assert.deepEqual(rolloutState(obj('Deployment', { replicas: 2 }, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })), { state: 'done', progress: '2/2 available, 2/2 updated' });
  assert.deepEqual(rolloutState(obj('Deployment', { replicas: 2 }, { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'timed out' }] })),
    { state: 'failed', condition: 'Progressing=False (ProgressDeadlineExceeded): timed out' });
});

test('a StatefulSet is done when every replica is ready on the update revision; a Job when Complete', () => {
  assert.equal(rolloutState(obj('StatefulSet', { replicas: 1 }, { observedGeneration: 2, readyReplicas: 1, currentRevision: 'a', updateRevision: 'b', updatedReplicas: 0 })).state, 'waiting');
  assert.equal(rolloutState(obj('StatefulSet', { replicas: 1 }, { observedGeneration: 2, readyReplicas: 1, currentRevision: 'b', updateRevision: 'b' })).state, 'done');
  assert.equal(rolloutState(obj('Job', {}, { active: 1 })).state, 'waiting');
  assert.equal(rolloutState(obj('Job', {}, { conditions: [{ type: 'Complete', status: 'True' }] })).state, 'done');
  assert.equal(rolloutState(obj('Job', {}, { conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] })).state, 'failed');
});

test('a rollout that never finishes stops at the timeout with the object and its last progress', async () => {
  let now = 0;
  const lines: string[] = [];
  const stuck = obj('Deployment', { replicas: 2 }, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 });
  const api: KubeApi = { apply: async (o) => o, read: async () => stuck, list: async () => [], remove: async () => {} };
  const deployment = { ...stuck, metadata: { name: 'web', labels: {} } } as KubeObject;
  await assert.rejects(
    deployObjects(api, [[deployment]], { project: 'p', namespace: 'ns', dryRun: undefined, prune: false, timeoutMs: 60_000, pollMs: 1000,
      sleep: async (ms) => { now += ms; }, now: () => now, progress: (l) => lines.push(l) }),
    (e: unknown) => e instanceof GantryError && e.code === 'KUBE_ROLLOUT_FAILED' && e.message === 'Deployment/web in namespace ns did not finish its rollout within 60s (1/2 available, 2/2 updated)',
  );
  assert.deepEqual(lines, ['Deployment/web: applied', 'Deployment/web: 1/2 available, 2/2 updated'], 'progress is printed when it changes, not at every poll');
});
