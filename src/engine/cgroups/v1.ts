// cgroup v1 driver: one directory per hierarchy (cpu and cpuacct may be separate or co-mounted).
import { createHash } from 'node:crypto';
import { totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import { DEFAULT_DEVICE_RULES } from './devices.js';
import { formatDeviceRule, memoryLimit, memorySwapLimit, pidsMaxValue, validateLimits } from './limits.js';
import { blockIoOf, parseBlkioServiceBytes } from './block-io.js';
import { ControlFiles, parseKeyValues } from './sys.js';
import { blockIoOfPids, checkCgroupPath, cpuNanosOfPids, listTree, pollUntil, removeTree, rssOfPids, signalPids, treePids } from './tree.js';
import type { DriverTimings } from './tree.js';
import type { CgroupDriver, CgroupJoin, CgroupLimits, CgroupStats, CgroupView, CreateResult, DeviceRule } from './types.js';
import { hierarchiesView } from './view.js';

export interface V1Hierarchy {
  /** Absolute directory of the hierarchy's root (its mount point). */
  dir: string;
  controllers: string[];
}

/**
 * The cgroup that containers without a limit of their own share in a hierarchy when cgroups are made only for
 * limited containers (`GANTRY_MEMCG=limited`): `<parent of the container's path>/_unlimited`. Never a container's own
 * path (ids are hex), never listed as one.
 */
export const SHARED_MEMCG = '_unlimited';

/**
 * Controllers Gantry neither limits nor reads per container. With GANTRY_MEMCG=limited, a hierarchy made only of
 * these holds one shared `_unlimited` cgroup instead of one per container: a per-container cpuset costs the kernel a
 * walk of all its siblings when its cpus are written and a rebuild of the scheduler domains (a walk of every cpuset)
 * when it is removed, both O(containers).
 */
const UNLIMITED_CONTROLLERS: ReadonlySet<string> = new Set(['cpuset', 'net_cls', 'net_prio', 'perf_event', 'hugetlb', 'rdma', 'misc']);

/**
 * Controllers a container gets a cgroup of its own in, with GANTRY_MEMCG=limited, only while it has a limit on one of
 * them (memory, cpu, pids) — blkio and cpuacct are only read, and their counters are then summed from the container's
 * processes. Each such cgroup costs 3–8 kB of kernel memory (measured: cpu 7.5, blkio 4.7, cpuacct 3.5, pids 2.9).
 * The freezer (pause, and the list of the container's processes) stays per container; devices: SHARED_DEVICES.
 */
const LIMITED_ONLY_CONTROLLERS: ReadonlySet<string> = new Set(['memory', 'cpu', 'cpuacct', 'pids', 'blkio']);

const DEFAULT_DEVICE_LIST: readonly string[] = DEFAULT_DEVICE_RULES.map(formatDeviceRule);
/** DEFAULT_DEVICE_LIST as the kernel's `devices.list` shows it once written (one rule per line). */
const DEFAULT_DEVICE_TEXT = DEFAULT_DEVICE_LIST.join('\n');

/**
 * GANTRY_MEMCG=limited: the devices cgroup that every container with exactly Docker's default rules shares (3 kB
 * of kernel memory and one mkdir and rmdir less per container), `<parent>/_devices-<hash of the rules>`: a build
 * with other defaults makes another. Its rules are written once, when it is made, before anything joins it (a
 * rewrite denies every device for a moment), and checked against `devices.list` once per daemon (a daemon killed
 * between its mkdir and its rules left it allowing everything). A container with any other rules (`--device`,
 * `--privileged`) has its own, as before.
 */
export const SHARED_DEVICES = `_devices-${createHash('sha256').update(DEFAULT_DEVICE_TEXT).digest('hex').slice(0, 12)}`;

const isDefaultDevices = (rules: readonly DeviceRule[] | undefined): boolean =>
  rules !== undefined && rules.length === DEFAULT_DEVICE_LIST.length && rules.every((r, i) => formatDeviceRule(r) === DEFAULT_DEVICE_LIST[i]);

/** Controllers among LIMITED_ONLY_CONTROLLERS that these limits set something in. */
function limitedControllers(limits: CgroupLimits): Set<string> {
  const out = new Set<string>();
  if (memoryLimit(limits) !== undefined) out.add('memory');
  if (limits.cpuQuotaMicros !== undefined || limits.cpuPeriodMicros !== undefined || limits.cpuShares !== undefined) out.add('cpu');
  if (limits.pidsLimit !== undefined && limits.pidsLimit > 0) out.add('pids');
  return out;
}

export class CgroupV1Driver implements CgroupDriver {
  readonly version = 1 as const;

  /**
   * `memcgPerContainer` false (GANTRY_MEMCG=limited): only a container with a memory limit gets a memory cgroup of its
   * own; the others share one. Each memory cgroup costs kernel memory in proportion to the host's mounted filesystems
   * (every container adds several), so at thousands of containers one per container grows as N² and slows every
   * removal; the price is that such a container's memory usage is counted from its processes' RSS instead. The same
   * goes for cpu, cpuacct, pids and blkio (LIMITED_ONLY_CONTROLLERS): a cgroup of its own only with a limit there.
   */
  constructor(
    readonly hierarchies: readonly V1Hierarchy[],
    private readonly cf: ControlFiles,
    readonly warnings: readonly string[],
    private readonly timings: DriverTimings,
    private readonly memcgPerContainer = true,
  ) {
    this.anchor = memcgPerContainer ? undefined
      : this.hierarchy('freezer') ?? this.hierarchy('pids') ?? this.hierarchy('devices') ?? hierarchies.find((h) => !this.alwaysShared(h));
  }

  /**
   * GANTRY_MEMCG=limited: the hierarchy every container has a cgroup of its own in, whose cgroup.procs lists the
   * container's processes (pids(), kill, and the processes moved when a limit comes later): the freezer, else pids,
   * else devices, else the first one not always shared.
   */
  private readonly anchor: V1Hierarchy | undefined;

  /** GANTRY_MEMCG=limited and the devices hierarchy (alone, not the anchor): default rules share SHARED_DEVICES. */
  private sharesDevices(h: V1Hierarchy): boolean {
    return !this.memcgPerContainer && h !== this.anchor && h.controllers.length === 1 && h.controllers[0] === 'devices';
  }

  /** Shared devices dirs whose rules this driver made or checked (see SHARED_DEVICES). */
  private readonly devicesChecked = new Set<string>();

  /** Makes `<parent>/SHARED_DEVICES` with the default rules, or checks the rules of one made earlier. */
  private ensureSharedDevices(h: V1Hierarchy, parent: string): void {
    const dir = join(h.dir, parent, SHARED_DEVICES);
    const fresh = !this.cf.sys.exists(dir);
    if (!fresh && this.devicesChecked.has(dir)) return;
    if (fresh) this.makePath(h, join(parent, SHARED_DEVICES));
    if (fresh || this.cf.readOptional(join(dir, 'devices.list'))?.trim() !== DEFAULT_DEVICE_TEXT) this.writeDeviceRules(dir, DEFAULT_DEVICE_RULES);
    this.devicesChecked.add(dir);
  }

  private writeDeviceRules(dir: string, rules: readonly DeviceRule[]): void {
    this.cf.write(join(dir, 'devices.deny'), 'a');
    for (const rule of rules) this.cf.write(join(dir, 'devices.allow'), formatDeviceRule(rule));
  }

  /** GANTRY_MEMCG=limited and a hierarchy a container has a cgroup of its own in only while it is limited there. */
  private limitedOnly(h: V1Hierarchy): boolean {
    return !this.memcgPerContainer && h !== this.anchor && h.controllers.length > 0 && h.controllers.every((c) => LIMITED_ONLY_CONTROLLERS.has(c) || UNLIMITED_CONTROLLERS.has(c)) && !this.alwaysShared(h);
  }

  /** GANTRY_MEMCG=limited and a hierarchy of controllers nobody limits: every container shares one cgroup in it. */
  private alwaysShared(h: V1Hierarchy): boolean {
    return !this.memcgPerContainer && h.controllers.every((c) => UNLIMITED_CONTROLLERS.has(c));
  }

  /** The container's dir in hierarchy `h`: its own, or (GANTRY_MEMCG=limited: no limit there and none of its own, or
   * a hierarchy nobody limits) the shared one. */
  private dirIn(h: V1Hierarchy, p: string): string {
    const own = join(h.dir, p);
    if (this.alwaysShared(h) || (this.limitedOnly(h) && !this.cf.sys.exists(own))) return join(h.dir, dirname(p), SHARED_MEMCG);
    if (this.sharesDevices(h) && !this.cf.sys.exists(own)) return join(h.dir, dirname(p), SHARED_DEVICES);
    return own;
  }

  /** The container's own dir in the hierarchy of `controller`, undefined when it has none (it shares one, or the
   * controller is not mounted). */
  private ownDir(controller: string, p: string): string | undefined {
    const h = this.hierarchy(controller);
    if (h === undefined || this.alwaysShared(h)) return undefined;
    const dir = join(h.dir, p);
    return (!this.limitedOnly(h) && !this.sharesDevices(h)) || this.cf.sys.exists(dir) ? dir : undefined;
  }

  private ownMemoryDir(p: string): string | undefined {
    return this.ownDir('memory', p);
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

    // GANTRY_MEMCG=limited: the hierarchies this container is limited in get a cgroup of its own; one it shared so far
    // (a limit given later, by update) gets its processes moved in. (Looked up only in that mode: a container start
    // pays no extra syscall otherwise.)
    const limited = limitedControllers(limits);
    const running = this.anchor !== undefined && this.cf.sys.exists(join(this.anchor.dir, p));
    /** The hierarchies the container has its own dir in after this (where its limits and rules are written). */
    const owned = new Set<string>();
    const makeOwn = (h: V1Hierarchy): void => { this.makePath(h, p); for (const c of h.controllers) owned.add(c); };
    for (const h of this.hierarchies) {
      if (this.alwaysShared(h)) { this.makePath(h, join(dirname(p), SHARED_MEMCG)); continue; }
      if (!this.limitedOnly(h) && !this.sharesDevices(h)) { makeOwn(h); continue; }
      const own = join(h.dir, p);
      const hadOwn = this.cf.sys.exists(own);
      if (this.sharesDevices(h) && !hadOwn) {
        // (no rules given to a running container (update): as it was, never a new dir its processes are not in)
        if (isDefaultDevices(limits.devicesAllowed)) this.ensureSharedDevices(h, dirname(p));
        else if (limits.devicesAllowed !== undefined || !running) makeOwn(h);
        continue;
      }
      if (!hadOwn && !h.controllers.some((c) => limited.has(c))) { this.makePath(h, join(dirname(p), SHARED_MEMCG)); continue; }
      makeOwn(h);
      if (!hadOwn && running) for (const pid of this.pids(p)) this.cf.write(join(own, 'cgroup.procs'), pid);
    }

    const memoryDir = this.dirOf('memory', p);
    if (memory !== undefined && memoryDir !== undefined) this.applyMemory(memoryDir, memory, limits, warnings);
    const cpu = this.dirOf('cpu', p);
    if (cpu !== undefined) {
      if (limits.cpuPeriodMicros !== undefined || limits.cpuQuotaMicros !== undefined) {
        this.cf.write(join(cpu, 'cpu.cfs_period_us'), limits.cpuPeriodMicros ?? 100000);
      }
      if (limits.cpuQuotaMicros !== undefined) this.cf.write(join(cpu, 'cpu.cfs_quota_us'), limits.cpuQuotaMicros);
      if (limits.cpuShares !== undefined) this.cf.write(join(cpu, 'cpu.shares'), limits.cpuShares);
    }
    const pids = this.dirOf('pids', p);
    if (pids !== undefined && owned.has('pids') && limits.pidsLimit !== undefined) this.cf.write(join(pids, 'pids.max'), pidsMaxValue(limits.pidsLimit));
    const devices = this.dirOf('devices', p);
    if (devices !== undefined && owned.has('devices') && limits.devicesAllowed !== undefined) this.writeDeviceRules(devices, limits.devicesAllowed);
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

  /** The init writes "0" to each hierarchy's `tasks` itself (see CgroupJoin): no RCU wait. */
  joinFiles(path: string): CgroupJoin {
    const p = checkCgroupPath(path);
    return { self: this.hierarchies.map((h) => join(this.dirIn(h, p), 'tasks')), byPid: [] };
  }

  /** The hierarchy whose cgroup.procs is read for pids: the anchor (GANTRY_MEMCG=limited), else pids, else freezer,
   * else memory, else any. */
  private primary(): V1Hierarchy {
    const h = this.anchor ?? this.hierarchy('pids') ?? this.hierarchy('freezer') ?? this.hierarchy('memory') ?? this.hierarchies[0];
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
    // (a hierarchy the container shares with others (GANTRY_MEMCG=limited): its counters are summed from the
    // container's processes instead)
    let pidList: number[] | undefined;
    const pids = (): number[] => (pidList ??= this.pids(p));
    const mounted = (controller: string): boolean => this.hierarchy(controller) !== undefined;
    const own = (controller: string): boolean => this.ownDir(controller, p) !== undefined;
    const ownMemory = own('memory');
    const limit = ownMemory ? num('memory', 'memory.limit_in_bytes') : undefined;
    const blkio = this.ownDir('blkio', p);
    return {
      memoryUsageBytes: ownMemory ? num('memory', 'memory.usage_in_bytes') ?? 0 : rssOfPids(this.cf, pids()),
      memoryLimitBytes: limit === undefined ? totalmem() : Math.min(limit, totalmem()),
      cpuUsageNanos: own('cpuacct') ? num('cpuacct', 'cpuacct.usage') ?? 0 : mounted('cpuacct') ? cpuNanosOfPids(this.cf, pids()) : 0,
      pids: (own('pids') ? num('pids', 'pids.current') : undefined) ?? pids().length,
      ...(blkio !== undefined ? blockIoOf(this.cf.readOptional(join(blkio, 'blkio.throttle.io_service_bytes_recursive')), parseBlkioServiceBytes)
        : mounted('blkio') ? { blockIo: blockIoOfPids(this.cf, pids()) } : {}),
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
      if (this.sharesDevices(h)) {
        const dir = join(h.dir, p, SHARED_DEVICES);
        try { this.cf.sys.rmdir(dir); this.devicesChecked.delete(dir); } catch { /* in use, or not there */ }
      }
      if (!this.limitedOnly(h) && !this.alwaysShared(h)) continue;
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
    return [...all].filter((x) => basename(x) !== SHARED_MEMCG && basename(x) !== SHARED_DEVICES).sort();
  }
}
