// Stack scenarios, each step a command and the state a user can observe afterwards.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipReason } from '../helpers/privileged.js';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { containersOf, scenarioFile } from './stack-helpers.js';

const skip = skipReason('root', 'busybox');

describe('stack lifecycle (test/e2e/Lifecycle)', { skip }, () => {
  const d = new TestDaemon('stack-life');
  const file = scenarioFile('Lifecycle');
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-life-'));
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => { await d.dispose(); rmSync(tmp, { recursive: true, force: true }); });

  const ids = (): Record<string, string> => Object.fromEntries([...containersOf(d, file)].map(([n, r]) => [n, r.Id]));

  test('up -d --wait brings every service up, named <project>-<service>-<n>, on <project>_default', () => {
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'plain']);
    const cs = containersOf(d, file);
    assert.deepEqual([...cs.keys()].sort(), ['lifecycle-api-1', 'lifecycle-db-1', 'lifecycle-other-1', 'lifecycle-web-1']);
    for (const c of cs.values()) assert.equal(c.State, 'running');
    assert.match(cs.get('lifecycle-db-1')!.Status, /\(healthy\)/);
    assert.match(d.ok(['network', 'ls']), /lifecycle_default/);
  });

  test('containers reach each other by service name and alias', () => {
    d.ok(['stack', '-f', file, 'exec', '-T', 'web', 'nslookup', 'api']);
    d.ok(['stack', '-f', file, 'exec', '-T', 'web', 'nslookup', 'backend']);
  });

  test('an unchanged up is a no-op: nothing planned, nothing recreated', () => {
    const before = ids();
    assert.equal(d.ok(['up', '-f', file, '-d', '--dry-run']), 'nothing to do\n');
    d.ok(['up', '-f', file, '-d']);
    assert.deepEqual(ids(), before);
  });

  test('changing one service recreates it and its dependents only', async () => {
    const before = ids();
    const env = join(tmp, 'v2.env');
    writeFileSync(env, 'API_VERSION=2\n');
    const plan = d.ok(['up', '-f', file, '--env-file', env, '-d', '--dry-run']);
    assert.match(plan, /recreate-container container:lifecycle-api-1 \(config hash changed\)/);
    assert.match(plan, /recreate-container container:lifecycle-web-1 \(dependency "api" recreated\)/);
    d.ok(['up', '-f', file, '--env-file', env, '-d']);
    const now = ids();
    assert.equal(now['lifecycle-db-1'], before['lifecycle-db-1']);
    assert.equal(now['lifecycle-other-1'], before['lifecycle-other-1']);
    assert.notEqual(now['lifecycle-api-1'], before['lifecycle-api-1']);
    assert.notEqual(now['lifecycle-web-1'], before['lifecycle-web-1']);
    await eventually(() => assert.match(d.ok(['stack', '-f', file, 'logs', 'api']), /api-1 +\| api version 2/), 5000, 'the new api log');
  });

  test('--scale scales up and down', () => {
    d.ok(['up', '-f', file, '-d', '--scale', 'web=3']);
    assert.deepEqual([...containersOf(d, file).keys()].filter((n) => n.includes('-web-')).sort(), ['lifecycle-web-1', 'lifecycle-web-2', 'lifecycle-web-3']);
    d.ok(['up', '-f', file, '-d', '--scale', 'web=1']);
    assert.deepEqual([...containersOf(d, file).keys()].filter((n) => n.includes('-web-')), ['lifecycle-web-1']);
  });

  test('a container removed by hand comes back (the daemon keeps the stack converged)', async () => {
    const old = ids()['lifecycle-other-1'];
    d.ok(['rm', '-f', 'lifecycle-other-1']);
    await eventually(() => {
      const c = containersOf(d, file).get('lifecycle-other-1');
      assert.ok(c && c.Id !== old && c.State === 'running', 'recreated and running');
    }, 10_000, 'other-1 to come back');
  });

  test('after a daemon crash and restart the stack is converged again', async () => {
    d.ok(['rm', '-f', 'lifecycle-web-1']);
    await d.crash();
    await d.start();
    await eventually(() => assert.equal(containersOf(d, file).get('lifecycle-web-1')?.State, 'running'), 10_000, 'web-1 to come back');
  });

  test('stack stop holds the stack (no repair) and start resumes it', async () => {
    d.ok(['stack', '-f', file, 'stop']);
    for (const c of containersOf(d, file).values()) assert.notEqual(c.State, 'running');
    d.ok(['stack', '-f', file, 'start']);
    for (const c of containersOf(d, file).values()) assert.equal(c.State, 'running');
  });

  test('two concurrent ups of the same project leave one converged stack', async () => {
    const a = d.gantryAsync(['up', '-f', file, '-d', '--force-recreate', '--progress', 'plain']);
    const b = d.gantryAsync(['up', '-f', file, '-d', '--progress', 'plain']);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.status, 0, ra.stderr);
    assert.equal(rb.status, 0, rb.stderr);
    assert.deepEqual([...containersOf(d, file).keys()].sort(), ['lifecycle-api-1', 'lifecycle-db-1', 'lifecycle-other-1', 'lifecycle-web-1']);
  });

  test('down removes containers and the network, and the daemon forgets the stack', () => {
    d.ok(['down', '-f', file, '--progress', 'plain']);
    assert.equal(containersOf(d, file).size, 0);
    assert.doesNotMatch(d.ok(['network', 'ls']), /lifecycle_default/);
    assert.doesNotMatch(d.ok(['stack', 'ls', '-a']), /lifecycle/);
  });
});

describe('bad input (test/e2e/Invalid, test/e2e/FailingDependency)', { skip }, () => {
  const d = new TestDaemon('stack-bad');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => { await d.dispose(); });

  test('an invalid stack prints located diagnostics and changes nothing', () => {
    const r = d.gantry(['up', '-f', scenarioFile('Invalid'), '-d']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /compose\.yaml:\d+:\d+/);
    assert.match(r.stderr, /nowhere/);
    assert.equal(d.ok(['ps', '-aq']), '');
  });

  test('a one-shot that exits non-zero fails up, naming the service; what started stays', () => {
    const file = scenarioFile('FailingDependency');
    const r = d.gantry(['up', '-f', file, '-d', '--progress', 'plain']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /migrate.*didn't complete successfully: exit 3/);
    const cs = containersOf(d, file);
    assert.equal(cs.get('failing-migrate-1')?.State, 'exited');
    assert.notEqual(cs.get('failing-app-1')?.State, 'running', 'the dependent is not started');
    assert.equal(cs.get('failing-sick-1')?.State, 'running');
  });

  test('a dependency that never becomes healthy fails up with the reason', () => {
    const file = scenarioFile('FailingDependency');
    const r = d.gantry(['up', '-f', file, '--profile', 'sick', '-d', '--progress', 'plain', 'needs-sick']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /failing-sick-1 is unhealthy/);
    d.ok(['down', '-f', file, '--profile', 'sick']);
    assert.equal(d.ok(['ps', '-aq']), '');
  });
});
