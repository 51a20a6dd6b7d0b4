// The one cgroup interface the engine uses, whatever the host runs (v1 hierarchies or the v2 unified tree).
import type { BlockIoEntry } from './block-io.js';

/** A v1 devices rule, 'c 1:3 rwm' style. `type` 'a' means all devices (major/minor are then '*'). */
export interface DeviceRule {
  type: 'a' | 'b' | 'c';
  major: number | '*';
  minor: number | '*';
  /** Some of 'r', 'w', 'm'. */
  access: string;
}

export interface CgroupLimits {
  /** -m. Unless memorySwapBytes is given, memory+swap is limited to 2 × memory (docker's default). */
  memoryBytes?: number;
  /** memory + swap, like docker's --memory-swap; -1 means unlimited swap. Needs memoryBytes. */
  memorySwapBytes?: number;
  /** From --cpus: quota = cpus × period. */
  cpuQuotaMicros?: number;
  /** Default 100000 when a quota is given. */
  cpuPeriodMicros?: number;
  /** v1 cpu.shares; on v2 converted to cpu.weight = 1 + ((shares - 2) × 9999) / 262142. */
  cpuShares?: number;
  /** <= 0 means unlimited. */
  pidsLimit?: number;
  /** Deny every device but these: v1 writes devices.deny/allow, v2 attaches the same rules as an eBPF program. */
  devicesAllowed?: DeviceRule[];
}

export interface CgroupStats {
  memoryUsageBytes: number;
  /** The memory limit, or the host's total memory when unlimited (as `docker stats` shows it). */
  memoryLimitBytes: number;
  cpuUsageNanos: number;
  pids: number;
  /** Bytes read/written per device; absent when the host does not account block I/O for the cgroup. */
  blockIo?: BlockIoEntry[];
}

/** What create() could not do but did not need to fail for (e.g. no swap accounting, no pids hierarchy). */
export interface CreateResult {
  warnings: string[];
}

/** One filesystem of a container's /sys/fs/cgroup. */
export interface CgroupViewMount {
  /** 'tmpfs' / 'cgroup' for a new filesystem; for a bind (fstype 'bind'), the host directory bound. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  /** 'bind': the container's own dir of a host hierarchy, bound (v1: no new superblock per container). */
  fstype: 'tmpfs' | 'cgroup' | 'cgroup2' | 'bind';
  /** Mount data: a v1 hierarchy's controllers ("cpu,cpuacct"), the tmpfs mode. */
  data: string;
  readOnly: boolean;
}

/**
 * What a container's /sys/fs/cgroup is made of. Mounted inside the container's cgroup namespace (unshared once its
 * init sits in its cgroups): each cgroup filesystem (v2) or bound dir (v1) is the container's own cgroup, limits included.
 */
export interface CgroupView {
  /** In mount order; they go right after /sys. */
  mounts: CgroupViewMount[];
  /** The other names of co-mounted v1 controllers, e.g. /sys/fs/cgroup/cpu → "cpu,cpuacct" (relative targets). */
  symlinks: Array<{ target: string; link: string }>;
  /** Mount targets turned read-only once the symlinks exist (the v1 tmpfs, filled first). */
  readOnlyAfterSetup: string[];
}

/**
 * A process joins its cgroups in one of two ways. On v1 it writes "0" to each hierarchy's `tasks` file itself, just
 * after it was cloned (single-threaded: its one thread is the process): a thread moving itself is the one migration
 * for which the kernel takes no global lock. Writing a pid to `cgroup.procs` takes cgroup_threadgroup_rwsem for
 * writing, which after an idle moment waits for an RCU grace period (7-20 ms on this machine) holding the cgroup
 * mutex. On v2, where a thread can move alone only inside a threaded subtree, the init is cloned straight into
 * its cgroup instead (Linux 5.7+; the shim moves it by pid where the kernel refuses that), and an exec's process is
 * moved by pid.
 */
export interface CgroupJoin {
  /** Files the process writes "0" to, first thing (v1: `tasks`). */
  readonly self: readonly string[];
  /** Files the shim writes the process's pid to (v2: `cgroup.procs`; for an init, only when `into` was refused). */
  readonly byPid: readonly string[];
  /** v2: the cgroup dir an init is cloned into (clone3 CLONE_INTO_CGROUP, which takes that lock for reading only). */
  readonly into?: string | undefined;
}

export interface CgroupDriver {
  readonly version: 1 | 2;
  /** Things noticed while detecting the host's cgroups, e.g. an optional controller that is not mounted. */
  readonly warnings: readonly string[];
  /** Create the container's cgroup (all needed controllers/hierarchies) and apply limits. Idempotent. */
  create(path: string, limits: CgroupLimits): CreateResult;
  /** The container's /sys/fs/cgroup: read-only unless `writable` (privileged containers). Pure, no I/O. */
  containerView(opts: { writable: boolean; path: string }): CgroupView;
  /** Each hierarchy's `cgroup.procs` of the container's cgroup (what lists its processes). */
  procsFiles(path: string): string[];
  /** How the container's init and exec'd processes join its cgroups (the C shim and its child, docs/shim-protocol.md). */
  joinFiles(path: string): CgroupJoin;
  /** Pids in the cgroup and its descendants; [] when it does not exist. */
  pids(path: string): number[];
  /** Freezes and waits (bounded) until the kernel reports the cgroup frozen. */
  freeze(path: string): Promise<void>;
  thaw(path: string): Promise<void>;
  isFrozen(path: string): boolean;
  oomKillCount(path: string): number;
  stats(path: string): CgroupStats;
  /** Signals every process (default SIGKILL); v2 uses cgroup.kill for SIGKILL when it exists. Thaws a frozen cgroup. */
  killAll(path: string, signal?: NodeJS.Signals): void;
  /** Removes the cgroup dirs, children first. Retries while processes exit (EBUSY); missing = success. */
  remove(path: string): Promise<void>;
  /**
   * The absolute directories `path` has of its own (one per hierarchy on v1; shared cgroups are not among them),
   * whether they exist or not: what a removal off the main thread rmdirs (cgroups/background-remove.ts).
   */
  ownDirs(path: string): string[];
  exists(path: string): boolean;
  /** Every cgroup path under parent (relative to the hierarchy root, parents before children); [] if none. */
  list(parent: string): string[];
  /**
   * Optional: removes the cgroups containers share under `parent` (v1, GANTRY_MEMCG=limited) when nothing is in
   * them. The caller makes sure no start is between create() and its init's join (that start would find it gone).
   */
  removeSharedIfUnused?(parent: string): void;
}
