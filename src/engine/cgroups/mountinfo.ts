// Reads the cgroup mounts out of /proc/self/mountinfo text (pure; see proc(5) for the format).

/** Controllers a v1 hierarchy can carry; anything else in the super options is a mount option. */
export const V1_CONTROLLERS: ReadonlySet<string> = new Set([
  'cpuset', 'cpu', 'cpuacct', 'blkio', 'io', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event',
  'net_prio', 'hugetlb', 'pids', 'rdma', 'misc',
]);

export interface CgroupMount {
  version: 1 | 2;
  /** Where it is mounted, as written in mountinfo. */
  mountPoint: string;
  /** v1: the controllers in the mount's super options (e.g. ['cpu', 'cpuacct']); v2: [] (read cgroup.controllers). */
  controllers: string[];
  /** v1 named hierarchy, e.g. 'systemd' for name=systemd. */
  name?: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const before = line.slice(0, sep).split(' ');
    const after = line.slice(sep + 3).split(' ');
    const mountPoint = before[4];
    const fsType = after[0];
    const superOptions = after[2] ?? '';
    if (mountPoint === undefined) continue;
    if (fsType === 'cgroup2') {
      mounts.push({ version: 2, mountPoint: unescape(mountPoint), controllers: [] });
    } else if (fsType === 'cgroup') {
      const options = superOptions.split(',');
      const controllers = options.filter((o) => V1_CONTROLLERS.has(o));
      const name = options.find((o) => o.startsWith('name='))?.slice('name='.length);
      mounts.push({ version: 1, mountPoint: unescape(mountPoint), controllers, ...(name === undefined ? {} : { name }) });
    }
  }
  return mounts;
}
