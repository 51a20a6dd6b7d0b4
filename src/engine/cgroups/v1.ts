// cgroup v1 driver: one directory per hierarchy (cpu and cpuacct may be separate or co-mounted).
import { totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import { formatDeviceRule, memoryLimit, memorySwapLimit, pidsMaxValue, validateLimits } from './limits.js';
import { blockIoOf, parseBlkioServiceBytes } from './block-io.js';
import { ControlFiles, parseKeyValues } from './sys.js';
import { AttachPrewarmer, ownProcsFile } from './prewarm.js';
import { checkCgroupPath, listTree, pollUntil, removeTree, rssOfPids, signalPids, treePids } from './tree.js';
import type { DriverTimings } from './tree.js';
import type { CgroupDriver, CgroupLimits, CgroupStats, CgroupView, CreateResult } from './types.js';
import { hierarchiesView } from './view.js';

export interface V1Hierarchy {
  /** Absolute directory of the hierarchy's root (its mount point). */
  dir: string;
  controllers: string[];
}

/**
 * The memory cgroup that containers without a memory limit share when memory cgroups are made only for limited
 * containers (`GANTRY_MEMCG=limited`): `<parent of the container's path>/_unlimited`. Never a container's own path
 * (ids are hex), never listed as one.
 */
export const SHARED_MEMCG = '_unlimited';

/**
 * Controllers Gantry neither limits nor reads per container. With GANTRY_MEMCG=limited, a hierarchy made only of
 * these holds one shared `_unlimited` cgroup instead of one per container: a per-container cpuset costs the kernel a
 * walk of all its siblings when its cpus are written and a rebuild of the scheduler domains (a walk of every cpuset)
 * when it is removed, both O(containers).
 */
const UNLIMITED_CONTROLLERS: ReadonlySet<string> = new Set(['cpuset', 'net_cls', 'net_prio', 'perf_event', 'hugetlb', 'rdma', 'misc']);

export class CgroupV1Driver implements CgroupDriver {
  readonly version = 1 as const;

  /**
   * `memcgPerContainer` false (GANTRY_MEMCG=limited): only a container with a memory limit gets a memory cgroup of its
   * own; the others share one. Each memory cgroup costs kernel memory in proportion to the host's mounted filesystems
   * (every container adds several), so at thousands of containers one per container grows as N² and slows every
   * removal; the price is that such a container's memory usage is counted from its processes' RSS instead.
   */
  constructor(
    readonly hierarchies: readonly V1Hierarchy[],
    private readonly cf: ControlFiles,
    readonly warnings: readonly string[],
    private readonly timings: DriverTimings,
    private readonly memcgPerContainer = true,
  ) {}

  private isMemory(h: V1Hierarchy): boolean {
    return h.controllers.includes('memory');
  }

  /** GANTRY_MEMCG=limited and a hierarchy of controllers nobody limits: every container shares one cgroup in it. */
  private alwaysShared(h: V1Hierarchy): boolean {
    return !this.memcgPerContainer && h.controllers.every((c) => UNLIMITED_CONTROLLERS.has(c));
  }

  /** The container's dir in hierarchy `h`: its own, or (GANTRY_MEMCG=limited: memory without one of its own, or a
   * hierarchy nobody limits) the shared one. */
  private dirIn(h: V1Hierarchy, p: string): string {
    const own = join(h.dir, p);
    const shared = join(h.dir, dirname(p), SHARED_MEMCG);
    if (this.alwaysShared(h)) return shared;
    if (this.memcgPerContainer || !this.isMemory(h) || this.cf.sys.exists(own)) return own;
    return shared;
  }

  /** The container's own memory cgroup dir, undefined when it has none (it shares one, or memory is not mounted). */
  private ownMemoryDir(p: string): string | undefined {
    const dir = this.dirOf('memory', p);
    return dir !== undefined && this.cf.sys.exists(dir) ? dir : undefined;
  }

  private readonly prewarmer = new AttachPrewarmer(() => this.cf.sys.readFile('/proc/self/cgroup'), (text) => {
    const h = this.hierarchy('cpu') ?? this.hierarchies[0];
    return h === undefined ? undefined : ownProcsFile(text, h.dir, (cs) => cs.some((c) => h.controllers.includes(c)));
  });

  /** See prewarm.ts: starts the kernel's wait for the next attach in the background. */
  prewarm(): void {
    this.prewarmer.run();
  }

  private hierarchy(controller: string): V1Hierarchy | undefined {
    return this.hierarchies.find((h) => h.controllers.includes(controller));
  }

  /** Directory of `path` in the hierarchy carrying `controller`, or undefined when it is not mounted. */
  private dirOf(controller: string, path: string): string | undefined {
    const h = this.hierarchy(controller);
    return h === undefined ? undefined : join(h.dir, path);
  }

  private need(controller: string, what: string): string {
    const h = this.hierarchy(controller);
    if (h !== undefined) return h.dir;
    throw new GantryError('UNSUPPORTED', `cannot apply ${what}: the cgroup v1 "${controller}" controller is not mounted`, {
      hint: `mount it (mount -t cgroup -o ${controller} cgroup /sys/fs/cgroup/${controller}) or drop that limit`,
    });
  }

  create(path: string, limits: CgroupLimits): CreateResult {
    validateLimits(limits);
    const p = checkCgroupPath(path);
    const warnings: string[] = [];
    const memory = memoryLimit(limits);
    if (memory !== undefined) this.need('memory', 'the memory limit');
    const wantsCpu = limits.cpuQuotaMicros !== undefined || limits.cpuPeriodMicros !== undefined || limits.cpuShares !== undefined;
    if (wantsCpu) this.need('cpu', 'the cpu limit');
    if (limits.pidsLimit !== undefined && limits.pidsLimit > 0) this.need('pids', 'the pids limit');
    if (limits.devicesAllowed !== undefined) this.need('devices', 'the device rules');

    const shared = !this.memcgPerContainer && memory === undefined;
    // (looked up only in that mode: a container start pays no extra syscall otherwise)
    const hadOwnMemory = this.memcgPerContainer || this.ownMemoryDir(p) !== undefined;
    for (const h of this.hierarchies) {
      if ((shared && this.isMemory(h) && !hadOwnMemory) || this.alwaysShared(h)) this.makePath(h, join(dirname(p), SHARED_MEMCG));
      else this.makePath(h, p);
    }

    const memoryDir = this.dirOf('memory', p);
    if (memory !== undefined && memoryDir !== undefined) {
      this.applyMemory(memoryDir, memory, limits, warnings);
      // a limit given later (update) to a container that shared the memory cgroup: its processes move to its own
      if (!this.memcgPerContainer && !hadOwnMemory) for (const pid of this.pids(p)) this.cf.write(join(memoryDir, 'cgroup.procs'), pid);
    }
    const cpu = this.dirOf('cpu', p);
    if (cpu !== undefined) {
      if (limits.cpuPeriodMicros !== undefined || limits.cpuQuotaMicros !== undefined) {
        this.cf.write(join(cpu, 'cpu.cfs_period_us'), limits.cpuPeriodMicros ?? 100000);
      }
      if (limits.cpuQuotaMicros !== undefined) this.cf.write(join(cpu, 'cpu.cfs_quota_us'), limits.cpuQuotaMicros);
      if (limits.cpuShares !== undefined) this.cf.write(join(cpu, 'cpu.shares'), limits.cpuShares);
    }
    const pids = this.dirOf('pids', p);
    if (pids !== undefined && limits.pidsLimit !== undefined) this.cf.write(join(pids, 'pids.max'), pidsMaxValue(limits.pidsLimit));
    const devices = this.dirOf('devices', p);
    if (devices !== undefined && limits.devicesAllowed !== undefined) {
      this.cf.write(join(devices, 'devices.deny'), 'a');
      for (const rule of limits.devicesAllowed) this.cf.write(join(devices, 'devices.allow'), formatDeviceRule(rule));
    }
    return { warnings };
  }

  /** mkdir each level of path in one hierarchy, preparing each new level as the controller needs. */
  private makePath(h: V1Hierarchy, path: string): void {
    let parent = h.dir;
    for (const segment of path.split('/')) {
      const dir = join(parent, segment);
      this.cf.mkdir(dir);
      if (h.controllers.includes('cpuset')) this.inheritCpuset(parent, dir);
      if (h.controllers.includes('memory')) {
        // Hierarchical accounting, so a parent's limit covers its children. Always 1 on kernels >= 6.x;
        // on older ones it can only be set before the dir has children, i.e. right here.
        const file = join(dir, 'memory.use_hierarchy');
        if (this.cf.readOptional(file)?.trim() === '0') this.cf.write(file, '1');
      }
      parent = dir;
    }
  }

  /** A new cpuset cgroup starts with empty cpus and mems and accepts no process until they are filled. */
  private inheritCpuset(parent: string, dir: string): void {
    for (const name of ['cpuset.cpus', 'cpuset.mems']) {
      const file = join(dir, name);
      if (this.cf.read(file).trim() !== '') continue;
      this.cf.write(file, this.cf.read(join(parent, name)).trim());
    }
  }

  /** memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes at every step, so the order depends on direction. */
  private applyMemory(dir: string, memory: number, limits: CgroupLimits, warnings: string[]): void {
    const limitFile = join(dir, 'memory.limit_in_bytes');
    const swapFile = join(dir, 'memory.memsw.limit_in_bytes');
    const swap = memorySwapLimit(limits);
    const currentSwap = this.cf.readOptional(swapFile);
    if (currentSwap === undefined) {
      if (limits.memorySwapBytes !== undefined && limits.memorySwapBytes !== -1) {
        warnings.push('the kernel does not account swap (no memory.memsw.limit_in_bytes): the memory limit is set, the swap limit is not');
      }
      this.cf.write(limitFile, memory);
      return;
    }
    if (swap === undefined) {
      this.cf.write(limitFile, memory);
      return;
    }
    const raising = swap === -1 || swap >= Number(currentSwap.trim());
    if (raising) {
      this.cf.write(swapFile, swap);
      this.cf.write(limitFile, memory);
    } else {
      this.cf.write(limitFile, memory);
      this.cf.write(swapFile, swap);
    }
  }

  /** A tmpfs with one bind per hierarchy the container joins (the dirs of procsFiles), see view.ts. */
  containerView(opts: { writable: boolean; path: string }): CgroupView {
    const p = checkCgroupPath(opts.path);
    return hierarchiesView(this.hierarchies.map((h) => ({ controllers: h.controllers, dir: this.dirIn(h, p) })), opts.writable);
  }

  procsFiles(path: string): string[] {
    const p = checkCgroupPath(path);
    return this.hierarchies.map((h) => join(this.dirIn(h, p), 'cgroup.procs'));
  }

  /** The hierarchy whose cgroup.procs is read for pids: pids, else freezer, else memory, else any. */
  private primary(): V1Hierarchy {
    const h = this.hierarchy('pids') ?? this.hierarchy('freezer') ?? this.hierarchy('memory') ?? this.hierarchies[0];
    if (h === undefined) throw new Error('bug: cgroup v1 driver without hierarchies');
    return h;
  }

  pids(path: string): number[] {
    return treePids(this.cf, this.primary().dir, checkCgroupPath(path));
  }

  private freezerState(path: string): string {
    return join(this.need('freezer', 'pause/unpause'), checkCgroupPath(path), 'freezer.state');
  }

  async freeze(path: string): Promise<void> {
    const file = this.freezerState(path);
    this.cf.write(file, 'FROZEN');
    // Freezing can stall (FREEZING) while a task is busy in the kernel; writing FROZEN again retries it.
    let tries = 0;
    const frozen = await pollUntil(() => this.cf.read(file).trim() === 'FROZEN', this.timings.freezeTimeoutMs, () => {
      if (tries++ > 0) this.cf.write(file, 'FROZEN');
    });
    if (frozen) return;
    const state = this.cf.read(file).trim();
    this.cf.write(file, 'THAWED');
    throw new GantryError('SYSCALL_FAILED', `freeze \`${file}\`: still ${state} after ${this.timings.freezeTimeoutMs} ms`, {
      hint: 'a process in the container may be stuck in the kernel; try again',
    });
  }

  async thaw(path: string): Promise<void> {
    const file = this.freezerState(path);
    this.cf.write(file, 'THAWED');
    const thawed = await pollUntil(() => this.cf.read(file).trim() === 'THAWED', this.timings.freezeTimeoutMs);
    if (!thawed) throw new GantryError('SYSCALL_FAILED', `thaw \`${file}\`: still ${this.cf.read(file).trim()}`);
  }

  isFrozen(path: string): boolean {
    const dir = this.dirOf('freezer', checkCgroupPath(path));
    if (dir === undefined) return false;
    return this.cf.readOptional(join(dir, 'freezer.state'))?.trim() === 'FROZEN';
  }

  oomKillCount(path: string): number {
    // a shared memory cgroup's kills are not this container's (and without a limit of its own only the host's OOM
    // killer can kill it)
    const dir = this.ownMemoryDir(checkCgroupPath(path));
    if (dir === undefined) return 0;
    const text = this.cf.readOptional(join(dir, 'memory.oom_control'));
    return text === undefined ? 0 : parseKeyValues(text).get('oom_kill') ?? 0;
  }

  stats(path: string): CgroupStats {
    const p = checkCgroupPath(path);
    if (!this.exists(p)) throw new GantryError('NOT_FOUND', `cgroup "${p}" does not exist`);
    const num = (controller: string, file: string): number | undefined => {
      const dir = this.dirOf(controller, p);
      const text = dir === undefined ? undefined : this.cf.readOptional(join(dir, file));
      return text === undefined ? undefined : Number(text.trim());
    };
    const own = this.memcgPerContainer || this.ownMemoryDir(p) !== undefined;
    const limit = own ? num('memory', 'memory.limit_in_bytes') : undefined;
    const blkio = this.dirOf('blkio', p);
    return {
      memoryUsageBytes: own ? num('memory', 'memory.usage_in_bytes') ?? 0 : rssOfPids(this.cf, this.pids(p)),
      memoryLimitBytes: limit === undefined ? totalmem() : Math.min(limit, totalmem()),
      cpuUsageNanos: num('cpuacct', 'cpuacct.usage') ?? 0,
      pids: num('pids', 'pids.current') ?? this.pids(p).length,
      ...blockIoOf(blkio === undefined ? undefined : this.cf.readOptional(join(blkio, 'blkio.throttle.io_service_bytes_recursive')), parseBlkioServiceBytes),
    };
  }

  killAll(path: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    const p = checkCgroupPath(path);
    const frozen = this.isFrozen(p);
    const thaw = (): void => this.cf.write(this.freezerState(p), 'THAWED');
    // A frozen task only acts on a signal once thawed; SIGKILL is sent first so nothing runs in between.
    if (frozen && signal !== 'SIGKILL') thaw();
    const first = this.pids(p);
    signalPids(this.cf, first, signal);
    if (signal === 'SIGKILL') {
      // Catch children forked while the first round was being sent.
      const seen = new Set(first);
      signalPids(this.cf, this.pids(p).filter((pid) => !seen.has(pid)), signal);
    }
    if (frozen && signal === 'SIGKILL') thaw();
  }

  async remove(path: string): Promise<void> {
    const p = checkCgroupPath(path);
    const deadline = Date.now() + this.timings.removeTimeoutMs;
    for (const h of this.hierarchies) await removeTree(this.cf, join(h.dir, p), deadline);
    // The shared cgroups stay here: removing them with their last member raced with a start between create() and
    // the init's join, whose cgroup.procs was then gone. removeSharedIfUnused() is called when no start is.
  }

  ownDirs(path: string): string[] {
    const p = checkCgroupPath(path);
    return this.hierarchies.filter((h) => !this.alwaysShared(h)).map((h) => join(h.dir, p));
  }

  removeSharedIfUnused(parent: string): void {
    if (this.memcgPerContainer) return;
    const p = checkCgroupPath(parent);
    for (const h of this.hierarchies) {
      if (!this.isMemory(h) && !this.alwaysShared(h)) continue;
      try { this.cf.sys.rmdir(join(h.dir, p, SHARED_MEMCG)); } catch { /* in use, or not there */ }
    }
  }

  exists(path: string): boolean {
    const p = checkCgroupPath(path);
    return this.hierarchies.some((h) => this.cf.sys.exists(join(h.dir, p)));
  }

  list(parent: string): string[] {
    const p = checkCgroupPath(parent);
    const all = new Set(this.hierarchies.flatMap((h) => listTree(this.cf, h.dir, p)));
    // the shared memory cgroup is no container's: never offered to recovery as one to clean up
    return [...all].filter((x) => basename(x) !== SHARED_MEMCG).sort();
  }
}
