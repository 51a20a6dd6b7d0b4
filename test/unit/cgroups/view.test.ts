// The container's /sys/fs/cgroup as each driver plans it, on the fake host layouts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, relative } from 'node:path';
import type { CgroupView } from '../../../src/engine/cgroups/index.js';
import {
  DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, THIS_MACHINE, THIS_MACHINE_MOUNTS, UNIFIED, UNIFIED_MOUNTS, UNIFIED_WITH_V1_HUGETLB,
  UNIFIED_WITH_V1_HUGETLB_MOUNTS, withHost,
} from './hosts.js';
import type { FakeHost } from './hosts.js';

const CG = '/sys/fs/cgroup';
const RO = true;

/** The hierarchies (relative to the fake's /sys/fs/cgroup) whose procs files the container init is written to. */
function joinedHierarchies(h: FakeHost): string[] {
  return h.driver.procsFiles('gantry-t/c1').map((f) => relative(h.fake.abs(CG), dirname(dirname(dirname(f)))));
}

describe('cgroup v2 view', () => {
  test('one read-only cgroup2 mount at /sys/fs/cgroup: the container\'s own cgroup once in its namespace', () =>
    withHost(UNIFIED, UNIFIED_MOUNTS, ({ driver }) => {
      assert.deepEqual(driver.containerView({ writable: false, path: 'gantry-t/c1' }), {
        mounts: [{ source: 'cgroup', target: CG, fstype: 'cgroup2', data: '', readOnly: RO }],
        symlinks: [],
        readOnlyAfterSetup: [],
      } satisfies CgroupView);
    }));

  test('privileged containers get it writable (they may make child cgroups)', () =>
    withHost(UNIFIED, UNIFIED_MOUNTS, ({ driver }) => {
      assert.deepEqual(driver.containerView({ writable: true, path: 'gantry-t/c1' }).mounts.map((m) => m.readOnly), [false]);
    }));

  test('a stray v1 hierarchy on a unified host is not part of the view', () =>
    withHost(UNIFIED_WITH_V1_HUGETLB, UNIFIED_WITH_V1_HUGETLB_MOUNTS, ({ driver }) => {
      assert.equal(driver.version, 2);
      assert.deepEqual(driver.containerView({ writable: false, path: 'gantry-t/c1' }).mounts.map((m) => [m.fstype, m.target]), [['cgroup2', CG]]);
    }));

  test('the view does not depend on the state of the tree: nothing is read or written', () =>
    withHost(UNIFIED, UNIFIED_MOUNTS, ({ fake, driver }) => {
      driver.create('gantry-t/c1', { memoryBytes: 64 << 20 });
      const writes = fake.writes.length;
      const before = driver.containerView({ writable: false, path: 'gantry-t/c1' });
      assert.equal(fake.writes.length, writes);
      assert.deepEqual(driver.containerView({ writable: false, path: 'gantry-t/c1' }), before);
    }));
});

describe('cgroup v1 view', () => {
  test('this machine: a tmpfs, then a read-only bind of the container\'s own dir per hierarchy it joins, named after it', () =>
    withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, (h) => {
      const view = h.driver.containerView({ writable: false, path: 'gantry-t/c1' });
      const names = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];
      assert.deepEqual(view.mounts, [
        { source: 'tmpfs', target: CG, fstype: 'tmpfs', data: 'mode=755', readOnly: false },
        ...names.map((n) => ({ source: h.fake.abs(`${CG}/${n}/gantry-t/c1`), target: `${CG}/${n}`, fstype: 'bind', data: '', readOnly: RO })),
      ]);
      assert.deepEqual(view.symlinks, [], 'no co-mounted controllers here');
      assert.deepEqual(view.readOnlyAfterSetup, [CG], 'the tmpfs turns read-only once filled');
      assert.deepEqual(view.mounts.slice(1).map((m) => `${m.source}/cgroup.procs`), h.driver.procsFiles('gantry-t/c1'),
        'exactly the dirs the init is written into: name=systemd and the cgroup2 mount are left out');
    }));

  test('GANTRY_MEMCG=limited: the view binds the shared dirs where the container has none of its own', async () => {
    process.env['GANTRY_MEMCG'] = 'limited';
    try {
      await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, (h) => {
        h.driver.create('gantry-t/c1', {});
        const view = h.driver.containerView({ writable: false, path: 'gantry-t/c1' });
        const source = (n: string): string | undefined => view.mounts.find((m) => m.target === `${CG}/${n}`)?.source;
        assert.equal(source('memory'), h.fake.abs(`${CG}/memory/gantry-t/_unlimited`));
        assert.equal(source('cpuset'), h.fake.abs(`${CG}/cpuset/gantry-t/_unlimited`), 'no cpuset of its own: nothing limits it');
        assert.equal(source('pids'), h.fake.abs(`${CG}/pids/gantry-t/_unlimited`), 'no pids limit: shared');
        assert.equal(source('freezer'), h.fake.abs(`${CG}/freezer/gantry-t/c1`));
        assert.equal(h.fake.exists(h.fake.abs(`${CG}/cpuset/gantry-t/c1`)), false);
        assert.deepEqual(view.mounts.slice(1).map((m) => `${m.source}/cgroup.procs`), h.driver.procsFiles('gantry-t/c1'));
      });
    } finally {
      delete process.env['GANTRY_MEMCG'];
    }
  });

  test('co-mounted controllers: mounted once under the joint name, each controller a symlink to it', () =>
    withHost(DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, (h) => {
      assert.equal(h.driver.version, 1);
      const view = h.driver.containerView({ writable: false, path: 'gantry-t/c1' });
      const cgroupMounts = view.mounts.filter((m) => m.fstype === 'bind');
      assert.deepEqual(cgroupMounts.map((m) => m.target), [
        `${CG}/cpu,cpuacct`, `${CG}/net_cls,net_prio`, `${CG}/memory`, `${CG}/pids`, `${CG}/freezer`, `${CG}/cpuset`,
        `${CG}/devices`, `${CG}/hugetlb`, `${CG}/blkio`, `${CG}/perf_event`,
      ]);
      assert.deepEqual(view.symlinks, [
        { target: 'cpu,cpuacct', link: `${CG}/cpu` }, { target: 'cpu,cpuacct', link: `${CG}/cpuacct` },
        { target: 'net_cls,net_prio', link: `${CG}/net_cls` }, { target: 'net_cls,net_prio', link: `${CG}/net_prio` },
      ]);
      assert.deepEqual(cgroupMounts.map((m) => relative(h.fake.abs(CG), dirname(dirname(m.source)))).sort(), joinedHierarchies(h).sort());
      assert.ok(view.mounts.every((m) => m.fstype !== 'cgroup2'), 'the hybrid cgroup2 mount holds the daemon\'s cgroup, not the container\'s');
    }));

  test('privileged containers: every mount writable and the tmpfs left writable', () =>
    withHost(DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, ({ driver }) => {
      const view = driver.containerView({ writable: true, path: 'gantry-t/c1' });
      assert.ok(view.mounts.every((m) => !m.readOnly));
      assert.deepEqual(view.readOnlyAfterSetup, []);
    }));

  test('names never leave /sys/fs/cgroup: each target is one path component below it', () =>
    withHost(DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, ({ driver }) => {
      const view = driver.containerView({ writable: false, path: 'gantry-t/c1' });
      for (const t of [...view.mounts.slice(1).map((m) => m.target), ...view.symlinks.map((s) => s.link)]) {
        assert.match(t, /^\/sys\/fs\/cgroup\/[a-z_,]+$/);
      }
    }));
});
