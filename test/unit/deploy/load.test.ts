// Loading a checkout as a deployment does: --path as a directory, a file, or several files merged; the source's
// name as project name unless the stack sets `name:`; the operator's env file (never the daemon's environment);
// strict policy (a link out of the checkout, a privileged service); a missing path named.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadCheckout } from '../../../src/deploy/load.js';
import type { DeploySpec } from '../../../src/deploy/types.js';

const temps: string[] = [];
after(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });
function checkout(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'gantry-deploy-load-'));
  temps.push(d);
  for (const [p, t] of Object.entries(files)) { mkdirSync(dirname(join(d, p)), { recursive: true }); writeFileSync(join(d, p), t); }
  return d;
}

const SPEC: DeploySpec = {
  name: 'shop', repo: 'file:///r', ref: 'main', paths: [], envFile: undefined, intervalMs: 1000, timeoutMs: 1000,
  prune: false, selfHeal: false, auth: { kind: 'none' }, webhookSecretFile: undefined,
};
const SHA = 'f'.repeat(40);

describe('loading a checkout', () => {
  test('discovery at the root; the project is the source name', async () => {
    const r = await loadCheckout(SPEC, checkout({ 'compose.yaml': 'services:\n  web: { image: busybox }\n' }), SHA);
    assert.ok(r.ok);
    assert.equal(r.model.name, 'shop');
  });

  test('`name:` in the stack wins; --path a directory', async () => {
    const r = await loadCheckout({ ...SPEC, paths: ['deploy'] }, checkout({ 'deploy/compose.yaml': 'name: store\nservices:\n  web: { image: busybox }\n' }), SHA);
    assert.ok(r.ok);
    assert.equal(r.model.name, 'store');
  });

  test('several --path files are merged in order', async () => {
    const dir = checkout({ 'a.yaml': 'services:\n  web: { image: busybox, command: ["a"] }\n', 'b.yaml': 'services:\n  web: { command: ["b"] }\n' });
    const r = await loadCheckout({ ...SPEC, paths: ['a.yaml', 'b.yaml'] }, dir, SHA);
    assert.ok(r.ok);
    assert.deepEqual(r.model.services['web']?.command, ['b']);
  });

  test('the env file sets variables; the daemon environment does not leak in', async () => {
    const dir = checkout({ 'compose.yaml': 'services:\n  web: { image: "busybox:${TAG:-latest}", environment: { HOME_IS: "${HOME:-unset}" } }\n' });
    const envFile = join(dir, '..', `${dir.split('/').pop()}.env`);
    writeFileSync(envFile, 'TAG=1.36\n');
    temps.push(envFile);
    const r = await loadCheckout({ ...SPEC, envFile }, dir, SHA);
    assert.ok(r.ok);
    assert.equal(r.model.services['web']?.image, 'busybox:1.36');
    assert.deepEqual(r.model.services['web']?.environment, { HOME_IS: 'unset' });
  });

  test('strict policy: privileged is an error, a link out of the checkout is refused', async () => {
    const bad = await loadCheckout(SPEC, checkout({ 'compose.yaml': 'services:\n  web: { image: busybox, privileged: true }\n' }), SHA);
    assert.equal(bad.ok, false);
    assert.ok(bad.diagnostics.some((d) => d.code === 'SPEC_RISKY_PRIVILEGED' && d.severity === 'error'));
    const dir = checkout({ 'compose.yaml': 'services:\n  web: { image: busybox, env_file: [leak.env] }\n' });
    symlinkSync('/etc/hostname', join(dir, 'leak.env'));
    const link = await loadCheckout(SPEC, dir, SHA);
    assert.equal(link.ok, false);
    assert.ok(link.diagnostics.some((d) => d.code === 'SPEC_PATH_OUTSIDE_PROJECT'), JSON.stringify(link.diagnostics.map((d) => d.code)));
  });

  test('a --path that is not in the commit is named', async () => {
    const r = await loadCheckout({ ...SPEC, paths: ['deploy/compose.yaml'] }, checkout({ 'compose.yaml': 'services: {}\n' }), SHA);
    assert.equal(r.ok, false);
    assert.equal(r.ok ? '' : r.message, '--path deploy/compose.yaml does not exist in commit ffffffffffff');
  });
});
