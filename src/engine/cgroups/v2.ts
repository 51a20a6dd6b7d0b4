// cgroup v2 driver: one unified tree; controllers are enabled for children in each parent's cgroup.subtree_control.
import { totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { GantryError, errnoCode, syscallError } from '../../common/errors.js';
import { cpuMaxValue, cpuWeightFromShares, memoryLimit, memorySwapLimit, pidsMaxValue, validateLimits } from './limits.js';
import { deviceProgram, encodeProgram } from './bpf-devices.js';
import { blockIoOf, parseIoStat } from './block-io.js';
import { ControlFiles, parseKeyValues } from './sys.js';
import { checkCgroupPath, listTree, pollUntil, removeTree, rssOfPids, signalPids, treePids } from './tree.js';
import type { DriverTimings } from './tree.js';
import type { CgroupDriver, CgroupJoin, CgroupLimits, CgroupStats, CgroupView, CreateResult } from './types.js';
import { unifiedView } from './view.js';
import { SHARED_MEMCG } from './v1.js';

/** The controllers the engine enables for container cgroups, when the host has them. */
export const V2_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;

/**
 * GANTRY_MEMCG=limited on v2. A memory cgroup per container costs the kernel state for every memcg-aware shrinker (one
 * per superblock: several per container), so N containers cost N² (see v1.ts). v2 has one tree, and a cgroup has the
 * memory controller exactly when its parent delegates it; so a container without a memory limit lives one level
 * down, in `<parent>/_unlimited/<id>`: `<parent>` delegates memory to `_unlimited` (one memory cgroup for all of
 * them), and `_unlimited` delegates cpu and pids but not memory. The container's path for the engine stays
 * `<parent>/<id>`; the driver resolves it (its own dir when it exists, else the shared one's child). A memory limit
 * given later (`update -m`) makes `<parent>/<id>`, with the limits and the device program, and moves the processes
 * there. Their memory use is counted from their processes' RSS, their OOM count is 0 (only the host's OOM killer can
 * kill them), as on v1.
 */
export class CgroupV2Driver implements CgroupDriver {
  readonly version = 2 as const;

  constructor(
    /** Absolute directory of the unified hierarchy's root (its mount point). */
    readonly root: string,
    /** Controllers listed in the root's cgroup.controllers. */
    readonly controllers: readonly string[],
    private readonly cf: ControlFiles,
    readonly warnings: readonly string[],
    private readonly timings: DriverTimings,
    /** false: GANTRY_MEMCG=limited (above). */
    private readonly memcgPerContainer = true,
  ) {}

  /** `<parent>/_unlimited/<id>`: where a container of `<parent>/<id>` without a memory cgroup of its own lives. */
  private sharedChild(p: string): string {
    return join(dirname(p), SHARED_MEMCG, basename(p));
  }

  /** The container's cgroup relative to the root: its own, or (GANTRY_MEMCG=limited, no memory cgroup of its own)
   * the shared one's child. */
  private rel(path: string): string {
    const p = checkCgroupPath(path);
    if (this.memcgPerContainer || !p.includes('/') || this.cf.sys.exists(join(this.root, p))) return p;
    return this.sharedChild(p);
  }

  private dir(path: string): string {
    return join(this.root, this.rel(path));
  }

  create(path: string, limits: CgroupLimits): CreateResult {
    validateLimits(limits);
    const p = checkCgroupPath(path);
    const warnings: string[] = [];
    const memory = memoryLimit(limits);
    const needed = new Set<string>();
    if (memory !== undefined) needed.add('memory');
    if (limits.cpuQuotaMicros !== undefined || limits.cpuPeriodMicros !== undefined || limits.cpuShares !== undefined) needed.add('cpu');
    if (limits.pidsLimit !== undefined && limits.pidsLimit > 0) needed.add('pids');
    for (const c of needed) {
      if (!this.controllers.includes(c)) {
        throw new GantryError('UNSUPPORTED', `cannot apply the ${c} limit: the cgroup v2 "${c}" controller is not available`, {
          hint: `enable it in ${join(this.root, 'cgroup.subtree_control')} of the host, or drop that limit`,
        });
      }
    }

    // Every level above the container's cgroup delegates the controllers; the leaf itself holds processes,
    // so (no internal processes) nothing is enabled in its own subtree_control.
    const wanted = V2_CONTROLLERS.filter((c) => this.controllers.includes(c));
    const sharing = !this.memcgPerContainer && memory === undefined && p.includes('/') && !this.cf.sys.exists(join(this.root, p));
    const leaf = sharing ? this.sharedChild(p) : p;
    let dir = this.root;
    const segments = leaf.split('/');
    segments.forEach((segment, i) => {
      // the shared cgroup (the level above a sharing container's leaf) delegates everything but memory
      const sharedLevel = sharing && i === segments.length - 1;
      this.delegate(dir, sharedLevel ? wanted.filter((c) => c !== 'memory') : wanted, needed, warnings);
      dir = join(dir, segment);
      this.cf.mkdir(dir);
    });

    if (memory !== undefined) {
      this.cf.write(join(dir, 'memory.max'), memory);
      const total = memorySwapLimit(limits);
      const swapFile = join(dir, 'memory.swap.max');
      if (total !== undefined) {
        if (this.cf.sys.exists(swapFile)) this.cf.write(swapFile, total === -1 ? 'max' : total - memory);
        else if (limits.memorySwapBytes !== undefined && limits.memorySwapBytes !== -1) {
          warnings.push('the kernel does not account swap (no memory.swap.max): the memory limit is set, the swap limit is not');
        }
      }
    }
    const cpuMax = cpuMaxValue(limits);
    if (cpuMax !== undefined) this.cf.write(join(dir, 'cpu.max'), cpuMax);
    if (limits.cpuShares !== undefined) this.cf.write(join(dir, 'cpu.weight'), cpuWeightFromShares(limits.cpuShares));
    if (limits.pidsLimit !== undefined && this.controllers.includes('pids')) this.cf.write(join(dir, 'pids.max'), pidsMaxValue(limits.pidsLimit));
    // No devices.allow on v2: the same rules as an eBPF program attached to the cgroup (before any process joins).
    if (limits.devicesAllowed !== undefined) this.cf.sys.setDeviceProgram(dir, encodeProgram(deviceProgram(limits.devicesAllowed)));
    if (!sharing && !this.memcgPerContainer && p.includes('/')) this.moveFromShared(p, dir);
    return { warnings };
  }

  /**
   * A container that shared the memory cgroup and now has one of its own (a limit given later): its processes move
   * from `<parent>/_unlimited/<id>` to `dir` (made, limited and with its device program already), frozen if they were;
   * then the old leaf goes. Forks meanwhile land in the old leaf: each round moves the pids not moved yet.
   */
  private moveFromShared(p: string, dir: string): void {
    const old = join(this.root, this.sharedChild(p));
    if (!this.cf.sys.exists(old)) return;
    if (this.frozenNow(old)) this.cf.write(join(dir, 'cgroup.freeze'), '1');
    const moved = new Set<number>();
    for (let round = 0; round < 100; round++) {
      const left = treePids(this.cf, this.root, this.sharedChild(p)).filter((pid) => !moved.has(pid));
      if (left.length === 0) break;
      for (const pid of left) {
        try { this.cf.write(join(dir, 'cgroup.procs'), pid); } catch (e) { if (errnoCode(e) !== 'ESRCH') throw e; }
        moved.add(pid);
      }
    }
    try { this.cf.sys.rmdir(old); } catch { /* a process still exiting: remove() takes it with the container */ }
  }

  /** Enables the wanted controllers in dir/cgroup.subtree_control (those not enabled yet). */
  private delegate(dir: string, wanted: readonly string[], needed: ReadonlySet<string>, warnings: string[]): void {
    const file = join(dir, 'cgroup.subtree_control');
    const enabled = new Set(this.cf.read(file).trim().split(/\s+/));
    for (const c of wanted) {
      if (enabled.has(c)) continue;
      try {
        this.cf.write(file, `+${c}`);
      } catch (e) {
        if (needed.has(c)) throw e;
        warnings.push(`could not enable the ${c} controller in ${file}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  /** One cgroup2 mount, wherever the host mounts its unified tree (see view.ts). */
  containerView(opts: { writable: boolean; path: string }): CgroupView {
    return unifiedView(opts.writable);
  }

  procsFiles(path: string): string[] {
    return [join(this.dir(path), 'cgroup.procs')];
  }

  /** The init is cloned into the dir; an exec's process (and an init whose clone3 was refused) is moved by pid. */
  joinFiles(path: string): CgroupJoin {
    return { self: [], byPid: this.procsFiles(path), into: this.dir(path) };
  }

  pids(path: string): number[] {
    return treePids(this.cf, this.root, this.rel(path));
  }

  private frozenNow(dir: string): boolean {
    const text = this.cf.readOptional(join(dir, 'cgroup.events'));
    return text !== undefined && parseKeyValues(text).get('frozen') === 1;
  }

  async freeze(path: string): Promise<void> {
    const dir = this.dir(path);
    this.cf.write(join(dir, 'cgroup.freeze'), '1');
    if (await pollUntil(() => this.frozenNow(dir), this.timings.freezeTimeoutMs)) return;
    this.cf.write(join(dir, 'cgroup.freeze'), '0');
    throw new GantryError('SYSCALL_FAILED', `freeze \`${join(dir, 'cgroup.freeze')}\`: not frozen after ${this.timings.freezeTimeoutMs} ms`, {
      hint: 'a process in the container may be stuck in the kernel; try again',
    });
  }

  async thaw(path: string): Promise<void> {
    const dir = this.dir(path);
    this.cf.write(join(dir, 'cgroup.freeze'), '0');
    if (await pollUntil(() => !this.frozenNow(dir), this.timings.freezeTimeoutMs)) return;
    throw new GantryError('SYSCALL_FAILED', `thaw \`${join(dir, 'cgroup.freeze')}\`: still frozen after ${this.timings.freezeTimeoutMs} ms`);
  }

  isFrozen(path: string): boolean {
    return this.frozenNow(this.dir(path));
  }

  oomKillCount(path: string): number {
    const text = this.cf.readOptional(join(this.dir(path), 'memory.events'));
    return text === undefined ? 0 : parseKeyValues(text).get('oom_kill') ?? 0;
  }

  stats(path: string): CgroupStats {
    const dir = this.dir(path);
    if (!this.cf.sys.exists(dir)) throw new GantryError('NOT_FOUND', `cgroup "${checkCgroupPath(path)}" does not exist`);
    const text = (file: string): string | undefined => this.cf.readOptional(join(dir, file))?.trim();
    const limit = text('memory.max');
    const current = text('pids.current');
    const cpuStat = text('cpu.stat');
    const memoryCurrent = text('memory.current');
    return {
      // no memory.current: a container sharing the memory cgroup (GANTRY_MEMCG=limited), counted from its processes
      memoryUsageBytes: memoryCurrent !== undefined ? Number(memoryCurrent) : this.memcgPerContainer ? 0 : rssOfPids(this.cf, this.pids(path)),
      memoryLimitBytes: limit === undefined || limit === 'max' ? totalmem() : Math.min(Number(limit), totalmem()),
      cpuUsageNanos: cpuStat === undefined ? 0 : (parseKeyValues(cpuStat).get('usage_usec') ?? 0) * 1000,
      pids: current === undefined ? this.pids(path).length : Number(current),
      ...blockIoOf(text('io.stat'), parseIoStat),
    };
  }

  killAll(path: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    const dir = this.dir(path);
    const frozen = this.frozenNow(dir);
    const thaw = (): void => this.cf.write(join(dir, 'cgroup.freeze'), '0');
    if (frozen && signal !== 'SIGKILL') thaw();
    let killed = false;
    if (signal === 'SIGKILL') {
      try {
        this.cf.sys.writeFile(join(dir, 'cgroup.kill'), '1'); // kernel >= 5.14: kills the whole subtree, forks included
        killed = true;
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw syscallError('write', join(dir, 'cgroup.kill'), e);
      }
    }
    if (!killed) {
      const first = this.pids(path);
      signalPids(this.cf, first, signal);
      if (signal === 'SIGKILL') {
        const seen = new Set(first);
        signalPids(this.cf, this.pids(path).filter((pid) => !seen.has(pid)), signal);
      }
    }
    if (frozen && signal === 'SIGKILL') thaw();
  }

  async remove(path: string): Promise<void> {
    const deadline = Date.now() + this.timings.removeTimeoutMs;
    for (const dir of this.ownDirs(path)) await removeTree(this.cf, dir, deadline);
    // the shared cgroup stays (a start may be between its create() and its init's join): removeSharedIfUnused()
  }

  ownDirs(path: string): string[] {
    const p = checkCgroupPath(path);
    const own = join(this.root, p);
    return this.memcgPerContainer || !p.includes('/') ? [own] : [own, join(this.root, this.sharedChild(p))];
  }

  exists(path: string): boolean {
    return this.ownDirs(path).some((dir) => this.cf.sys.exists(dir));
  }

  list(parent: string): string[] {
    const p = checkCgroupPath(parent);
    const all = listTree(this.cf, this.root, p);
    if (this.memcgPerContainer) return all;
    // the shared cgroup is no container's; its children are listed by the paths the engine knows them by
    const shared = `${p}/${SHARED_MEMCG}`;
    const paths = new Set(all.filter((x) => x !== shared).map((x) => x.startsWith(`${shared}/`) ? `${p}/${x.slice(shared.length + 1)}` : x));
    return [...paths].sort();
  }

  removeSharedIfUnused(parent: string): void {
    if (this.memcgPerContainer) return;
    try { this.cf.sys.rmdir(join(this.root, checkCgroupPath(parent), SHARED_MEMCG)); } catch { /* in use, or not there */ }
  }
}
