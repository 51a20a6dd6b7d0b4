// The restart policy a service's containers are created with, from `restart` and deploy.restart_policy, for every
// condition Compose v2 accepts (its mapping: any/always -> always, unless-stopped, none/no -> no, on-failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStack, serviceConfigHash } from '../../../src/stack/index.js';
import { containerCreateBody } from '../../../src/reconcile/container-spec.js';

test('deploy.restart_policy.condition maps to the Docker restart policy', async () => {
  const table: Array<[string, { Name: string; MaximumRetryCount?: number }]> = [
    ['restart_policy: {condition: any}', { Name: 'always' }],
    ['restart_policy: {condition: always}', { Name: 'always' }],
    ['restart_policy: {condition: unless-stopped}', { Name: 'unless-stopped' }],
    ['restart_policy: {condition: none}', { Name: 'no' }],
    ['restart_policy: {condition: "no"}', { Name: 'no' }],
    ['restart_policy: {condition: on-failure, max_attempts: 4}', { Name: 'on-failure', MaximumRetryCount: 4 }],
    ['restart_policy: {}', { Name: 'always' }],
    ['replicas: 1', { Name: 'no' }],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'gantry-spec-'));
  try {
    const yaml = `services:\n${table.map(([deploy], i) => `  s${i}:\n    image: busybox\n    deploy: {${deploy}}\n`).join('')}`;
    writeFileSync(join(dir, 'compose.yaml'), yaml);
    const { model } = await loadStack({ cwd: dir, projectName: 'demo', env: {} });
    table.forEach(([deploy, want], i) => {
      const s = model.services[`s${i}`];
      assert.ok(s !== undefined);
      const body = containerCreateBody(model, s, 1, serviceConfigHash(s), { secrets: {}, configs: {} });
      assert.deepEqual(body.HostConfig?.RestartPolicy, want, deploy);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
