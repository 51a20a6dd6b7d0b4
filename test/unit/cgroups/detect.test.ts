import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GantryError } from '../../../src/common/errors.js';
import { detectCgroupDriver } from '../../../src/engine/cgroups/index.js';
import { FakeCgroupFs } from './fake-cgroupfs.js';
import {
  DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, THIS_MACHINE, THIS_MACHINE_MOUNTS, UNIFIED, UNIFIED_MOUNTS,
  UNIFIED_WITH_V1_HUGETLB, UNIFIED_WITH_V1_HUGETLB_MOUNTS, withHost,
} from './hosts.js';

test('this machine (hybrid, hugetlb alone on the cgroup2 mount) uses v1 with one dir per controller hierarchy', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    assert.equal(driver.version, 1);
    assert.deepEqual(driver.warnings, []);
    assert.deepEqual(driver.procsFiles('gantry-t/abc').map((f) => f.slice(fake.root.length)), [
      '/sys/fs/cgroup/cpu/gantry-t/abc/cgroup.procs',
      '/sys/fs/cgroup/cpuacct/gantry-t/abc/cgroup.procs',
      '/sys/fs/cgroup/cpuset/gantry-t/abc/cgroup.procs',
      '/sys/fs/cgroup/memory/gantry-t/abc/cgroup.procs',
      '/sys/fs/cgroup/devices/gantry-t/abc/cgroup.procs',
      '/sys/fs/cgroup/freezer/gantry-t/abc/cgroup.procs',
      '/sys/fs/cgroup/blkio/gantry-t/abc/cgroup.procs',
      '/sys/fs/cgroup/pids/gantry-t/abc/cgroup.procs',
    ]);
  });
});

test('a distro hybrid with co-mounted cpu,cpuacct uses v1 and that hierarchy once', async () => {
  await withHost(DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, ({ fake, driver }) => {
    assert.equal(driver.version, 1);
    const files = driver.procsFiles('g/x').map((f) => f.slice(fake.root.length));
    assert.equal(files.filter((f) => f.includes('cpu,cpuacct')).length, 1);
    assert.ok(files.includes('/sys/fs/cgroup/hugetlb/g/x/cgroup.procs'));
    assert.ok(!files.some((f) => f.includes('systemd') || f.includes('unified')));
  });
});

test('a unified host uses v2 with a single procs file', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, ({ fake, driver }) => {
    assert.equal(driver.version, 2);
    assert.deepEqual(driver.warnings, []);
    assert.deepEqual(driver.procsFiles('gantry/abc'), [`${fake.root}/sys/fs/cgroup/gantry/abc/cgroup.procs`]);
  });
});

test('a unified host with a lone v1 hugetlb mount still uses v2', async () => {
  await withHost(UNIFIED_WITH_V1_HUGETLB, UNIFIED_WITH_V1_HUGETLB_MOUNTS, ({ driver }) => {
    assert.equal(driver.version, 2);
  });
});

test('a missing optional controller is a warning; asking for its limit is an UNSUPPORTED error', async () => {
  const noPids = THIS_MACHINE.split('\n').filter((l) => !l.includes('/pids ')).join('\n');
  const mounts = THIS_MACHINE_MOUNTS.filter((m) => !m.mountPoint.endsWith('/pids'));
  await withHost(noPids, mounts, ({ driver }) => {
    assert.equal(driver.version, 1);
    assert.deepEqual(driver.warnings, ['cgroup v1 controller "pids" is not mounted: pids limits are unavailable']);
    driver.create('g/ok', { memoryBytes: 32 << 20, pidsLimit: 0 });
    assert.ok(driver.exists('g/ok'));
    assert.throws(() => driver.create('g/limited', { pidsLimit: 10 }),
      (e) => e instanceof GantryError && e.code === 'UNSUPPORTED' && /"pids" controller is not mounted/.test(e.message));
  });
  const v2NoPids = UNIFIED_MOUNTS.map((m) => ({ ...m, controllers: m.controllers.filter((c) => c !== 'pids') }));
  await withHost(UNIFIED, v2NoPids, ({ driver }) => {
    assert.equal(driver.version, 2);
    assert.deepEqual(driver.warnings, ['cgroup v2 controller "pids" is not available: pids limits are unavailable']);
    assert.throws(() => driver.create('g/limited', { pidsLimit: 10 }), (e) => e instanceof GantryError && e.code === 'UNSUPPORTED');
  });
});

test('a host without any cgroup filesystem is refused with a hint', () => {
  const fake = new FakeCgroupFs([]);
  try {
    assert.throws(() => detectCgroupDriver({ mountinfo: '27 1 254:0 / / rw - ext4 /dev/vda rw\n', root: fake.root, sys: fake }),
      (e) => e instanceof GantryError && e.code === 'UNSUPPORTED' && e.hint !== undefined);
  } finally {
    fake.dispose();
  }
});
