// Picks the cgroup driver for this host from /proc/self/mountinfo.
//
// Hybrid hosts (v1 hierarchies plus a cgroup2 mount at /sys/fs/cgroup/unified, whose only controller may be
// hugetlb or none) use v1: what matters is where the memory controller lives, not whether some controller
// sits on the other version's mount. A unified host may still carry a stray v1 mount (e.g. net_cls): it uses v2.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import { parseCgroupMounts } from './mountinfo.js';
import type { CgroupMount } from './mountinfo.js';
import { ControlFiles, realCgroupSys } from './sys.js';
import type { CgroupSys } from './sys.js';
import type { CgroupDriver } from './types.js';
import { CgroupV1Driver } from './v1.js';
import type { V1Hierarchy } from './v1.js';
import { CgroupV2Driver, V2_CONTROLLERS } from './v2.js';

export interface DetectOptions {
  /** mountinfo text; default: /proc/self/mountinfo. */
  mountinfo?: string;
  /** Directory the mount points are found under (tests: a fake cgroupfs in a temp dir). Default "/". */
  root?: string;
  /** File and process operations (tests: a fake kernel). */
  sys?: CgroupSys;
  freezeTimeoutMs?: number;
  removeTimeoutMs?: number;
}

/** What losing each optional v1 controller costs, for the warnings. */
const V1_OPTIONAL: Record<string, string> = {
  memory: 'memory limits and OOM detection are unavailable',
  cpu: 'cpu limits are unavailable',
  cpuacct: 'cpu usage stats are unavailable',
  pids: 'pids limits are unavailable',
  freezer: 'pause/unpause is unavailable',
  devices: 'device access cannot be restricted',
  cpuset: 'cpusets are not managed',
};

const V2_OPTIONAL: Record<string, string> = {
  memory: 'memory limits and OOM detection are unavailable',
  cpu: 'cpu limits are unavailable',
  pids: 'pids limits are unavailable',
};

export function detectCgroupDriver(opts: DetectOptions = {}): CgroupDriver {
  const sys = opts.sys ?? realCgroupSys;
  const cf = new ControlFiles(sys);
  const at = (mountPoint: string): string => (opts.root === undefined ? mountPoint : join(opts.root, mountPoint));
  const mountinfo = opts.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const mounts = parseCgroupMounts(mountinfo);
  const timings = { freezeTimeoutMs: opts.freezeTimeoutMs ?? 5000, removeTimeoutMs: opts.removeTimeoutMs ?? 5000 };

  const unified = mounts.find((m) => m.version === 2 && m.mountPoint === '/sys/fs/cgroup') ?? mounts.find((m) => m.version === 2);
  const unifiedControllers = unified === undefined
    ? []
    : (cf.readOptional(join(at(unified.mountPoint), 'cgroup.controllers')) ?? '').trim().split(/\s+/).filter((c) => c !== '');
  const v1 = v1Hierarchies(mounts, at);

  if (unified !== undefined && (unifiedControllers.includes('memory') || v1.length === 0)) {
    const warnings = V2_CONTROLLERS.filter((c) => !unifiedControllers.includes(c))
      .map((c) => `cgroup v2 controller "${c}" is not available: ${V2_OPTIONAL[c]}`);
    return new CgroupV2Driver(at(unified.mountPoint), unifiedControllers, cf, warnings, timings, process.env['GANTRY_MEMCG'] !== 'limited');
  }
  if (v1.length > 0) {
    const have = new Set(v1.flatMap((h) => h.controllers));
    const warnings = Object.entries(V1_OPTIONAL).filter(([c]) => !have.has(c))
      .map(([c, cost]) => `cgroup v1 controller "${c}" is not mounted: ${cost}`);
    return new CgroupV1Driver(v1, cf, warnings, timings, process.env['GANTRY_MEMCG'] !== 'limited');
  }
  throw new GantryError('UNSUPPORTED', 'no cgroup filesystem is mounted (neither cgroup2 nor cgroup v1 hierarchies)', {
    hint: 'mount cgroup2 at /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)',
  });
}

/** v1 hierarchies that carry controllers (named ones like name=systemd carry none), one per set of controllers. */
function v1Hierarchies(mounts: readonly CgroupMount[], at: (mountPoint: string) => string): V1Hierarchy[] {
  const out: V1Hierarchy[] = [];
  const seen = new Set<string>();
  for (const m of mounts) {
    if (m.version !== 1 || m.controllers.length === 0) continue;
    const key = [...m.controllers].sort().join(',');
    if (seen.has(key)) continue; // the same hierarchy mounted twice (bind mounts)
    seen.add(key);
    out.push({ dir: at(m.mountPoint), controllers: m.controllers });
  }
  return out;
}
