import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCgroupMounts } from '../../../src/engine/cgroups/mountinfo.js';
import { DISTRO_HYBRID, THIS_MACHINE, UNIFIED } from './hosts.js';

test('finds each v1 hierarchy with its controllers and the cgroup2 mount, ignoring other filesystems', () => {
  const mounts = parseCgroupMounts(THIS_MACHINE);
  assert.deepEqual(mounts.map((m) => [m.version, m.mountPoint, m.controllers.join(',')]), [
    [1, '/sys/fs/cgroup/cpu', 'cpu'],
    [1, '/sys/fs/cgroup/cpuacct', 'cpuacct'],
    [1, '/sys/fs/cgroup/cpuset', 'cpuset'],
    [1, '/sys/fs/cgroup/memory', 'memory'],
    [1, '/sys/fs/cgroup/devices', 'devices'],
    [1, '/sys/fs/cgroup/freezer', 'freezer'],
    [1, '/sys/fs/cgroup/blkio', 'blkio'],
    [1, '/sys/fs/cgroup/pids', 'pids'],
    [1, '/sys/fs/cgroup/systemd', ''],
    [2, '/sys/fs/cgroup/unified', ''],
  ]);
  assert.equal(mounts.find((m) => m.mountPoint.endsWith('systemd'))?.name, 'systemd');
});

test('reads co-mounted controllers from the super options, skipping mount options like clone_children and xattr', () => {
  const mounts = parseCgroupMounts(DISTRO_HYBRID);
  assert.deepEqual(mounts.find((m) => m.mountPoint === '/sys/fs/cgroup/cpu,cpuacct')?.controllers, ['cpu', 'cpuacct']);
  assert.deepEqual(mounts.find((m) => m.mountPoint === '/sys/fs/cgroup/cpuset')?.controllers, ['cpuset']);
  assert.deepEqual(mounts.find((m) => m.mountPoint === '/sys/fs/cgroup/systemd')?.controllers, []);
});

test('a unified host has a single cgroup2 mount', () => {
  assert.deepEqual(parseCgroupMounts(UNIFIED), [{ version: 2, mountPoint: '/sys/fs/cgroup', controllers: [] }]);
});

test('decodes octal escapes in mount points', () => {
  const [m] = parseCgroupMounts('50 1 0:9 / /tmp/my\\040cgroups rw - cgroup2 none rw\n');
  assert.equal(m?.mountPoint, '/tmp/my cgroups');
});
