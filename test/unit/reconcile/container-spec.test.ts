// The restart policy a service's containers are created with, from `restart` and deploy.restart_policy, for every
// condition Compose v2 accepts (its mapping: any/always -> always, unless-stopped, none/no -> no, on-failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStack, serviceConfigHash } from '../../../src/stack/index.js';
import { containerSpec } from '../../../src/reconcile/container-spec.js';

test("deploy.restart_policy.condition maps to the container's restart policy", async () => {
  const table: Array<[string, { name: string; maximumRetryCount: number }]> = [
    ['restart_policy: {condition: any}', { name: 'always', maximumRetryCount: 0 }],
    ['restart_policy: {condition: always}', { name: 'always', maximumRetryCount: 0 }],
    ['restart_policy: {condition: unless-stopped}', { name: 'unless-stopped', maximumRetryCount: 0 }],
    ['restart_policy: {condition: none}', { name: 'no', maximumRetryCount: 0 }],
    ['restart_policy: {condition: "no"}', { name: 'no', maximumRetryCount: 0 }],
    ['restart_policy: {condition: on-failure, max_attempts: 4}', { name: 'on-failure', maximumRetryCount: 4 }],
    ['restart_policy: {}', { name: 'always', maximumRetryCount: 0 }],
    ['replicas: 1', { name: 'no', maximumRetryCount: 0 }],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'gantry-spec-'));
  try {
    const yaml = `services:\n${table.map(([deploy], i) => `  s${i}:\n    image: busybox\n    deploy: {${deploy}}\n`).join('')}`;
    writeFileSync(join(dir, 'compose.yaml'), yaml);
    const { model } = await loadStack({ cwd: dir, projectName: 'demo', env: {} });
    table.forEach(([deploy, want], i) => {
      const s = model.services[`s${i}`];
      assert.ok(s !== undefined);
      const spec = containerSpec(model, s, 1, serviceConfigHash(s), { secrets: {}, configs: {} });
      assert.deepEqual(spec.host.restartPolicy, want, deploy);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
