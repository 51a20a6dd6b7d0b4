// mountinfo texts of the host kinds the detection must handle, with matching fake cgroupfs layouts.
import { detectCgroupDriver } from '../../../src/engine/cgroups/index.js';
import type { CgroupDriver } from '../../../src/engine/cgroups/index.js';
import { FakeCgroupFs } from './fake-cgroupfs.js';
import type { FakeMount, FakeOptions } from './fake-cgroupfs.js';

/** This development machine: v1 controllers each on their own mount, an empty cgroup2 at .../unified. */
export const THIS_MACHINE = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

export const THIS_MACHINE_MOUNTS: FakeMount[] = [
  ...['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids']
    .map((c): FakeMount => ({ mountPoint: `/sys/fs/cgroup/${c}`, version: 1, controllers: [c] })),
  { mountPoint: '/sys/fs/cgroup/systemd', version: 1, controllers: [] },
  { mountPoint: '/sys/fs/cgroup/unified', version: 2, controllers: ['hugetlb'] },
];

/** A typical systemd hybrid distro: cpu,cpuacct and net_cls,net_prio co-mounted, optional fields present. */
export const DISTRO_HYBRID = `25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 33 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
38 33 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
39 33 0:34 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
40 33 0:35 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
41 33 0:36 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
42 33 0:37 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,freezer
43 33 0:38 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,cpuset,clone_children
44 33 0:39 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,devices
45 33 0:40 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:21 - cgroup cgroup rw,hugetlb
46 33 0:41 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:22 - cgroup cgroup rw,blkio
47 33 0:42 / /sys/fs/cgroup/perf_event rw,nosuid,nodev,noexec,relatime shared:23 - cgroup cgroup rw,perf_event
`;

export const DISTRO_HYBRID_MOUNTS: FakeMount[] = [
  { mountPoint: '/sys/fs/cgroup/unified', version: 2, controllers: [] },
  { mountPoint: '/sys/fs/cgroup/systemd', version: 1, controllers: [] },
  { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', version: 1, controllers: ['cpu', 'cpuacct'] },
  { mountPoint: '/sys/fs/cgroup/net_cls,net_prio', version: 1, controllers: ['net_cls', 'net_prio'] },
  ...['memory', 'pids', 'freezer', 'cpuset', 'devices', 'hugetlb', 'blkio', 'perf_event']
    .map((c): FakeMount => ({ mountPoint: `/sys/fs/cgroup/${c}`, version: 1, controllers: [c] })),
];

/** A pure cgroup v2 host (systemd unified). */
export const UNIFIED = `25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
35 25 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

export const UNIFIED_MOUNTS: FakeMount[] = [
  { mountPoint: '/sys/fs/cgroup', version: 2, controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'] },
];

/** A v2 host on which someone also mounted a lone v1 hugetlb hierarchy. */
export const UNIFIED_WITH_V1_HUGETLB = UNIFIED +
  '60 25 0:50 / /run/gantry-hugetlb rw,relatime shared:30 - cgroup cgroup rw,hugetlb\n';

export const UNIFIED_WITH_V1_HUGETLB_MOUNTS: FakeMount[] = [
  { mountPoint: '/sys/fs/cgroup', version: 2, controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'] },
  { mountPoint: '/run/gantry-hugetlb', version: 1, controllers: ['hugetlb'] },
];

export interface FakeHost {
  fake: FakeCgroupFs;
  driver: CgroupDriver;
}

/** Runs fn on a fresh fake host and removes the temp dir afterwards, failure or not. */
export async function withHost(
  mountinfo: string, mounts: FakeMount[], fn: (h: FakeHost) => void | Promise<void>, opts: FakeOptions = {},
): Promise<void> {
  const fake = new FakeCgroupFs(mounts, opts);
  try {
    const driver = detectCgroupDriver({ mountinfo, root: fake.root, sys: fake, freezeTimeoutMs: 200, removeTimeoutMs: 200 });
    await fn({ fake, driver });
  } finally {
    fake.dispose();
  }
}
