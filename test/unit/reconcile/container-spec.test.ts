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

test('security_opt no-new-privileges reaches the container; a service without it keeps its config hash', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-spec-'));
  try {
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  a:\n    image: busybox\n    security_opt: [no-new-privileges]\n  b:\n    image: busybox\n  c:\n    image: busybox\n    security_opt: ["seccomp=unconfined"]\n');
    const { model } = await loadStack({ cwd: dir, projectName: 'demo', env: {} });
    const spec = (name: string) => containerSpec(model, model.services[name]!, 1, serviceConfigHash(model.services[name]!), { secrets: {}, configs: {} });
    assert.equal(spec('a').host.noNewPrivileges, true);
    assert.equal(spec('b').host.noNewPrivileges, undefined);
    assert.equal(spec('c').host.noNewPrivileges, undefined);
    assert.deepEqual(spec('c').host.seccomp, { kind: 'unconfined' });
    assert.equal(spec('b').host.seccomp, undefined, 'the default profile');
    // A service without security_opt keeps the hash it had before security options existed.
    assert.equal(model.services.b!.security_opt, undefined);
    assert.notEqual(serviceConfigHash({ ...model.services.a!, name: 'b' }), serviceConfigHash(model.services.b!));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
