// The same behaviour asked of both drivers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GantryError } from '../../../src/common/errors.js';
import { THIS_MACHINE, THIS_MACHINE_MOUNTS, UNIFIED, UNIFIED_MOUNTS, withHost } from './hosts.js';
import type { FakeHost } from './hosts.js';
import type { FakeOptions } from './fake-cgroupfs.js';

const hosts = [
  { name: 'v1 (this machine)', mountinfo: THIS_MACHINE, mounts: THIS_MACHINE_MOUNTS },
  { name: 'v2 (unified)', mountinfo: UNIFIED, mounts: UNIFIED_MOUNTS },
];

/** Puts a pretend process into every procs file, as the shim does with the container's init. */
function join(h: FakeHost, path: string, pid: number): string[] {
  const dirs = h.driver.procsFiles(path).map((f) => f.replace(/\/cgroup\.procs$/, ''));
  for (const dir of dirs) h.fake.addProcess(dir, pid);
  return dirs;
}

for (const host of hosts) {
  const on = (fn: (h: FakeHost) => void | Promise<void>, opts?: FakeOptions): Promise<void> =>
    withHost(host.mountinfo, host.mounts, fn, opts);

  describe(`cgroup driver contract: ${host.name}`, () => {
    test('exists and list see created cgroups, parents before children', () => on(({ driver }) => {
      assert.equal(driver.exists('gantry-t'), false);
      assert.deepEqual(driver.list('gantry-t'), []);
      driver.create('gantry-t/b', {});
      driver.create('gantry-t/a', {});
      driver.create('gantry-t/a/exec', {});
      assert.equal(driver.exists('gantry-t/a'), true);
      assert.deepEqual(driver.list('gantry-t'), ['gantry-t/a', 'gantry-t/a/exec', 'gantry-t/b']);
    }));

    test('remove deletes the tree children first; a missing cgroup is already removed', () => on(async ({ fake, driver }) => {
      driver.create('gantry-t/a/exec', {});
      driver.create('gantry-t/b', {});
      await driver.remove('gantry-t');
      assert.equal(driver.exists('gantry-t'), false);
      assert.deepEqual(fake.mounts.flatMap((m) => fake.descendants(fake.abs(m.mountPoint))), []);
      await driver.remove('gantry-t');
    }));

    test('remove waits while the last processes exit', () => on(async (h) => {
      const { fake, driver } = h;
      driver.create('g/c', {});
      const dirs = join(h, 'g/c', 401);
      setTimeout(() => dirs.forEach((d) => fake.exitAll(d)), 50);
      await driver.remove('g/c');
      assert.equal(driver.exists('g/c'), false);
    }));

    test('remove of a cgroup whose processes never exit fails naming the dir', () => on(async (h) => {
      const { driver } = h;
      driver.create('g/c', {});
      const [dir] = join(h, 'g/c', 402);
      await assert.rejects(driver.remove('g/c'), (e) => {
        assert.ok(e instanceof GantryError);
        assert.equal(e.message, `rmdir \`${dir}\`: EBUSY`);
        assert.match(e.hint ?? '', /processes are still in the cgroup/);
        return true;
      });
    }));

    test('paths that could escape the hierarchy are refused', () => on(({ driver }) => {
      for (const bad of ['', '/abs', '../up', 'a/../../b', 'a//b', './a']) {
        assert.throws(() => driver.create(bad, {}), (e) => e instanceof GantryError && e.code === 'INVALID_ARGUMENT', bad);
      }
      assert.throws(() => driver.list(''), GantryError);
    }));

    test('pids of a missing cgroup is empty and killing it is a no-op', () => on(({ fake, driver }) => {
      assert.deepEqual(driver.pids('g/none'), []);
      driver.killAll('g/none');
      assert.deepEqual(fake.signals, []);
    }));

    test('a process that exited between listing and signalling is not an error', () => on((h) => {
      const { fake, driver } = h;
      driver.create('g/c', {});
      const dirs = join(h, 'g/c', 501);
      assert.deepEqual(driver.pids('g/c'), [501]);
      const realKill = fake.kill.bind(fake);
      fake.kill = (pid, signal) => { dirs.forEach((d) => fake.exitAll(d)); realKill(pid, signal); };
      driver.killAll('g/c', 'SIGTERM');
      assert.deepEqual(fake.signals, []);
    }));
  });
}
