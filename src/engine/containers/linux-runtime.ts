// The Linux container runtime: per container a directory (upper/work/rootfs, /etc files, log, exit file), a
// cgroup, and a detached C shim (docs/shim-protocol.md) that owns the process. Everything decidable ahead of
// time is decided here and handed to the shim as a spec. Lifecycle decisions live in manager.ts.
import { parseNetDev, type InterfaceCounters } from './net-dev.js';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { GantryError } from '../../common/errors.js';
import { ALLOW_ALL_DEVICES, DEFAULT_DEVICE_RULES, type CgroupDriver, type CgroupLimits, type CgroupView } from '../cgroups/index.js';
import { withTemplateRoot } from '../cgroups/view.js';
import { ensureViewTemplate } from '../cgroups/view-template.js';
import { shimLogSettings } from '../logs/config.js';
import { readLogs, type LogEntry, type LogReadOptions } from '../logs/reader.js';
import { attachToShim, dockerFrame, type AttachOptions } from '../runtime/attach.js';
import { capabilityMask } from '../runtime/capabilities.js';
import { seccompFilterFor } from '../seccomp/index.js';
import { hostDeviceRule, lookupHostDevice, type HostDevice } from '../runtime/host-devices.js';
import { PendingShim, reapShim, shimBinary } from '../runtime/shim-process.js';
import { ShimSpawner } from '../runtime/shim-spawner.js';
import { connectShim, frame, resizeFrame, shimProtocol, signalFrame, watchExit } from '../runtime/shim-socket.js';
import { checkShimProtocol } from '../runtime/shim-version.js';
import {
  baseMounts, containerSpecEntries, DEFAULT_DEVICES, DEFAULT_SYMLINKS, encodeSpec, execSpecEntries, initMount, MASKED_PATHS, MS, READONLY_PATHS,
  rlimitNumber, type ContainerRuntimeSpec, type Namespace, type SpecMount,
} from '../runtime/spec.js';
import { resolveUserAsync } from '../runtime/user.js';
import { containerResolvConf, parseAddHost, parseResolvConf, renderHostname, renderHosts, renderResolvConf } from '../network/etc-files.js';
import { copyUpIntoVolume } from '../volumes/copy-up.js';
import { emptyNetnsSysfsMounted, mountEmptyNetnsSysfs, unmountEmptyNetnsSysfs } from '../../sys/empty-netns-sysfs.js';
import type { VolumeStore } from '../volumes/store.js';
import type { TrashReaper } from './trash-reaper.js';
import { mergeEnv } from './container-spec.js';
import type { ImageView } from './deps.js';
import { isActive, type ContainerView } from './record.js';
import { readContainerFile, USER_DB_MAX_BYTES } from './rootfs-files.js';
import type {
  BeforeGo, ContainerPaths, ContainerRuntime, ContainerUsage, ExecProcess, ExecProcessSpec, ExitInfo, ProcessInfo, RunningProcess, StartResult,
} from './runtime.js';

export interface LinuxRuntimeOptions {
  /** containers/ under the daemon root: one directory per container. */
  containersDir: string;
  /** Runtime dir (beside the API socket): shim sockets live here. */
  runDir: string;
  /** Kernel object prefix, e.g. "gantry" → cgroups `gantry/<id>`. */
  prefix: string;
  cgroups: CgroupDriver;
  volumes: VolumeStore;
  /** Another container's record (for `--network container:X`). */
  lookup: (ref: string) => ContainerView;
  /** Where the runtime says what the daemon's log should show (default: stderr). */
  log?: ((msg: string) => void) | undefined;
  /** Shims forked by the spawner process (default) or by the daemon itself (false: GANTRY_SHIM_SPAWNER=0). */
  shimSpawner?: boolean | undefined;
  /** Removes force-removed containers' cgroups off the main thread (without it, cleanup() removes them itself). */
  background?: TrashReaper | undefined;
}

export class LinuxRuntime implements ContainerRuntime {
  private readonly watchers = new Map<string, Socket>();
  /** Containers killed for a removal (forceKill with `removal`) whose exit is not seen yet. */
  private readonly removalKills = new Set<string>();
  private readonly execSockets = new Map<string, string>();
  /** Forks the shims, so that the daemon does not (shim-spawner.ts). */
  private readonly spawner: ShimSpawner;
  /** The sysfs `--network none` containers bind (sys/empty-netns-sysfs.ts): made at the first one (or an earlier
   * daemon's reused), removed at release() when no such container runs. */
  private noneSysfs: string | undefined;
  /** Starts between their cgroup's create() and the init's join (shared cgroups are not removed meanwhile). */
  private joining = 0;
  /** Containers whose cgroups were cleaned up when their process exited: their removal has nothing more to do. */
  private readonly cleanedAtExit = new Set<string>();
  /** Containers whose cgroups were made at create (precreateCgroups), not started since: the limits written. */
  private readonly madeAtCreate = new Map<string, string>();

  constructor(private readonly o: LinuxRuntimeOptions) {
    mkdirSync(join(o.runDir, 'shims'), { recursive: true, mode: 0o700 });
    this.spawner = new ShimSpawner(join(o.runDir, 'shims'), shimBinary(), o.log ?? ((msg) => { process.stderr.write(`${new Date().toISOString()} gantryd: ${msg}\n`); }), o.shimSpawner !== false);
  }

  private dir(id: string): string { return join(this.o.containersDir, id); }
  private socketPath(id: string): string { return join(this.o.runDir, 'shims', `${id.slice(0, 24)}.sock`); }
  private exitPath(id: string): string { return join(this.dir(id), 'exit'); }
  cgroupPath(id: string): string { return `${this.o.prefix}/${id}`; }

  paths(id: string): ContainerPaths {
    const dir = this.dir(id);
    return { dir, logPath: join(dir, 'log'), hostsPath: join(dir, 'hosts'), hostnamePath: join(dir, 'hostname'), resolvConfPath: join(dir, 'resolv.conf') };
  }

  /** The container's /sys/fs/cgroup. A read-only v1 view binds its root from a template dir shared by every
   * container (view-template.ts) instead of a tmpfs each: one superblock and a dozen tmpfs inodes less per container. */
  private cgroupView(rec: ContainerView): CgroupView {
    const view = this.o.cgroups.containerView({ writable: rec.host.privileged, path: this.cgroupPath(rec.id) });
    if (view.readOnlyAfterSetup.length === 0) return view;
    try {
      return withTemplateRoot(view, ensureViewTemplate(join(this.o.runDir, 'cgroup-views'), view));
    } catch {
      return view; // (the run dir not writable: the container's own tmpfs, as before)
    }
  }

  /** A start is coming: the spawner is made ready. */
  prewarm(): void {
    void this.spawner.ensure();
  }

  // ---- create ----------------------------------------------------------------------------------------------

  prepare(rec: ContainerView, image: ImageView): void {
    const dir = this.dir(rec.id);
    for (const sub of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
    // The container's `/` takes its owner and mode from the upper dir: give it those of the image's root.
    const top = image.layerDirs[0];
    const rootStat = top === undefined ? undefined : statSync(top);
    chmodSync(join(dir, 'upper'), rootStat ? rootStat.mode & 0o7777 : 0o755);
    if (rootStat) chownSync(join(dir, 'upper'), rootStat.uid, rootStat.gid);
    this.writeEtcFiles(rec);
    this.precreateCgroups(rec);
  }

  /**
   * A start usually follows a create within milliseconds (`run`, compose's create-then-start): the container's
   * cgroups are made now, off the start's path (a mkdir in each v1 hierarchy, ~1 ms). The start writes the limits
   * again only when they changed since (`update`, another --device node); the cgroups containers share
   * (GANTRY_MEMCG) stay while such a container waits for its start. Best effort: when anything fails here, the
   * start makes them.
   */
  private precreateCgroups(rec: ContainerView): void {
    const cg = this.cgroupPath(rec.id);
    let limits: CgroupLimits;
    try {
      limits = this.cgroupLimits(rec, hostDevices(rec));
      this.o.cgroups.create(cg, limits);
    } catch {
      void this.o.cgroups.remove(cg).catch(() => undefined);
      return;
    }
    this.madeAtCreate.set(rec.id, JSON.stringify(limits));
  }

  /**
   * The container's hostname, hosts and resolv.conf as of create, rendered by network/etc-files.ts (the one
   * renderer); networking rewrites hosts and resolv.conf when it attaches the container to a network.
   */
  private writeEtcFiles(rec: ContainerView): void {
    const dir = this.dir(rec.id);
    writeFileSync(join(dir, 'hostname'), renderHostname(rec.config.hostname));
    let hostResolv = '';
    try { hostResolv = readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* none on the host */ }
    if (rec.host.networkMode === 'host') {
      // The host's network namespace: its own files, as docker does.
      copyFileSync('/etc/hosts', join(dir, 'hosts'));
      writeFileSync(join(dir, 'resolv.conf'), hostResolv);
      return;
    }
    // `host-gateway` entries need a network's gateway: they appear once networking attaches the container.
    const extra = rec.host.extraHosts.flatMap((h) => { try { return [parseAddHost(h)]; } catch { return []; } });
    writeFileSync(join(dir, 'hosts'), renderHosts({ hostname: rec.config.hostname, own: [], extra }));
    writeFileSync(join(dir, 'resolv.conf'), renderResolvConf(containerResolvConf({ host: parseResolvConf(hostResolv), dns: rec.host.dns, dnsSearch: rec.host.dnsSearch })));
  }

  writeNetworkFiles(id: string, files: { hosts: string; resolvConf: string }): void {
    // In place, not renamed over: the files are bind-mounted into the container, and a bind follows the inode.
    writeFileSync(join(this.dir(id), 'hosts'), files.hosts);
    writeFileSync(join(this.dir(id), 'resolv.conf'), files.resolvConf);
  }

  destroy(id: string): void {
    this.removalKills.delete(id);
    // a create that failed after its cgroups were made (a removal cleaned them up already)
    if (this.madeAtCreate.delete(id)) void this.o.cgroups.remove(this.cgroupPath(id)).catch(() => undefined);
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  // ---- start -----------------------------------------------------------------------------------------------

  /** The running container whose network a `container:` mode container joins, followed through chains of them. */
  private networkPeer(rec: ContainerView): ContainerView {
    let cur = rec;
    for (let hops = 0; cur.host.networkMode.startsWith('container:'); hops++) {
      const other = this.o.lookup(cur.host.networkMode.slice('container:'.length));
      if (other.id === rec.id || hops > 16) throw new GantryError('INVALID_ARGUMENT', `container ${rec.name} cannot join its own network`, { hint: 'use --network container:OTHER with another container' });
      if (other.state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', `cannot join the network of container ${other.name}: it is not running`, { hint: `start it first: gantry start ${other.name}` });
      cur = other;
    }
    return cur;
  }

  private sysfsForNone(): string {
    if (this.noneSysfs === undefined) {
      const path = join(this.o.runDir, 'sysfs-none');
      if (!emptyNetnsSysfsMounted(path)) {
        unmountEmptyNetnsSysfs(path); // half of one
        mountEmptyNetnsSysfs(path);
      }
      this.noneSysfs = path;
    }
    return this.noneSysfs;
  }

  /** The container's root as its files are read before/while it runs: upper dir, then image layers. */
  private rootLayers(rec: ContainerView, image: ImageView | undefined): { name: string; layers: string[] } {
    return { name: rec.name, layers: [join(this.dir(rec.id), 'upper'), ...(image?.layerDirs ?? [])] };
  }

  private async buildSpec(rec: ContainerView, image: ImageView, devices: readonly HostDevice[], pooledNetns?: string): Promise<ContainerRuntimeSpec> {
    const dir = this.dir(rec.id);
    const root = this.rootLayers(rec, image);
    // The container does not run yet: its files are read directly (rootfs-files.ts), not dir by dir on the pool.
    const user = await resolveUserAsync(rec.config.user, (p) => readContainerFile(root, p, USER_DB_MAX_BYTES, undefined, { running: false }));
    // --network container:X shares X's network identity (Docker's rule): its netns, hostname, /etc/hosts and
    // /etc/resolv.conf (X's own files, bind-mounted: rewrites on network connect/disconnect show here too).
    const peer = rec.host.networkMode.startsWith('container:') ? this.networkPeer(rec) : undefined;
    const hostname = peer?.config.hostname ?? rec.config.hostname;
    const env = [...rec.config.env];
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${hostname}`);
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    if (rec.config.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    const namespaces: Namespace[] = ['pid', 'mount', 'uts', 'ipc', 'cgroup'];
    let netnsPath: string | undefined;
    if (peer !== undefined) {
      netnsPath = `/proc/${peer.state.pid}/ns/net`;
    } else if (rec.host.networkMode !== 'host') {
      // made ahead by networking (netns-pool.ts): joined, not made
      if (pooledNetns !== undefined) netnsPath = pooledNetns; else namespaces.push('net');
    }
    const mounts: SpecMount[] = baseMounts(rec.host.shmSizeBytes);
    if (rec.host.networkMode === 'host') {
      // sysfs of the host's network namespace: bind it read-only rather than mounting a new instance. Not
      // recursive: like a fresh sysfs, without the host's submounts (its writable cgroup hierarchies among them).
      mounts[mounts.length - 1] = { source: '/sys', target: '/sys', fstype: 'none', flags: MS.BIND | MS.RDONLY, data: '' };
    } else if (rec.host.networkMode === 'none') {
      // only `lo` in its netns: the one sysfs of such a netns, bound, instead of a superblock of its own per container
      mounts[mounts.length - 1] = { source: this.sysfsForNone(), target: '/sys', fstype: 'none', flags: MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, data: '' };
    }
    for (const f of ['hostname', 'hosts', 'resolv.conf']) {
      mounts.push({ source: join(peer === undefined ? dir : this.dir(peer.id), f), target: `/etc/${f}`, fstype: 'none', flags: MS.BIND, data: '' });
    }
    for (const m of rec.host.mounts) {
      if (m.type === 'tmpfs') {
        mounts.push({ source: 'tmpfs', target: m.target, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV | (m.readOnly ? MS.RDONLY : 0), data: m.tmpfsOptions ?? '' });
      } else {
        const source = m.type === 'volume' ? this.o.volumes.dataDir(m.source) : m.source;
        if (m.type === 'volume' && !m.noCopy) await copyUpIntoVolume(root, m.target, source);
        if (!existsSync(source)) throw new GantryError('BIND_SOURCE_MISSING', `bind source path does not exist: ${source}`, { hint: 'create it on the host, or recreate the container' });
        mounts.push({ source, target: m.target, fstype: 'none', flags: MS.BIND | MS.REC | (m.readOnly ? MS.RDONLY : 0), data: '' });
      }
    }
    if (rec.host.init) mounts.push(initMount(shimBinary())); // last: no user mount may cover it
    const lower = image.layerDirs.join(':');
    const capsMask = capabilityMask(rec.host.capAdd, rec.host.capDrop, rec.host.privileged);
    return {
      id: rec.id, rootfs: join(dir, 'rootfs'),
      overlayOptions: `lowerdir=${lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`,
      namespaces, netnsPath, hostname, mounts, symlinks: DEFAULT_SYMLINKS,
      cgroupView: this.cgroupView(rec),
      // With a tty, the shim binds the pty slave over /dev/console (the node only marks the mountpoint).
      devices: [...DEFAULT_DEVICES, ...(rec.config.tty ? [{ path: '/dev/console', type: 'c' as const, major: 5, minor: 1 }] : []),
        ...devices.map((d) => ({ path: d.pathInContainer, type: d.type, major: d.major, minor: d.minor, owner: { mode: d.mode, uid: d.uid, gid: d.gid } }))],
      maskedPaths: rec.host.privileged ? [] : MASKED_PATHS, readonlyPaths: rec.host.privileged ? [] : READONLY_PATHS,
      sysctls: rec.host.sysctls, readonlyRootfs: rec.host.readonlyRootfs,
      rlimits: rec.host.ulimits.map((u) => ({ resource: rlimitNumber(u.name), soft: u.soft, hard: u.hard })),
      oomScoreAdj: rec.host.oomScoreAdj, init: rec.host.init, ...shimLogSettings(rec, this.paths(rec.id).logPath),
      args: [...rec.config.entrypoint, ...rec.config.cmd], env, cwd: rec.config.workingDir,
      uid: user.uid, gid: user.gid, groups: user.groups,
      capsMask, noNewPrivs: rec.host.noNewPrivileges === true, seccompFilter: seccompFilterFor(rec.host.seccomp, capsMask, rec.host.privileged),
      tty: rec.config.tty, ttySize: rec.host.consoleSize === undefined ? undefined : [rec.host.consoleSize[0]!, rec.host.consoleSize[1]!], stdin: rec.config.openStdin, exitFile: this.exitPath(rec.id), socket: this.socketPath(rec.id),
      ...this.cgroupJoin(rec.id), detach: true,
    };
  }

  /**
   * How the container's processes join its cgroups (spec keys cgroup_self, cgroup_procs, cgroup_into; cgroups/types.ts
   * CgroupJoin). An exec spec takes the first two: its process is forked by a helper, not cloned into the cgroup.
   */
  private cgroupJoin(id: string): { cgroupSelf: readonly string[]; cgroupProcs: readonly string[]; cgroupInto: string | undefined } {
    const join = this.o.cgroups.joinFiles(this.cgroupPath(id));
    return { cgroupSelf: join.self, cgroupProcs: join.byPid, cgroupInto: join.into };
  }

  cgroupLimits(rec: ContainerView, devices: readonly HostDevice[]): CgroupLimits {
    const h = rec.host;
    const limits: CgroupLimits = {};
    if (h.memoryBytes > 0) {
      limits.memoryBytes = h.memoryBytes;
      limits.memorySwapBytes = h.memorySwapBytes !== 0 ? h.memorySwapBytes : h.memoryBytes * 2;
    }
    if (h.nanoCpus > 0) { limits.cpuPeriodMicros = 100_000; limits.cpuQuotaMicros = Math.max(1000, Math.round((h.nanoCpus / 1e9) * 100_000)); }
    if (h.cpuShares > 0) limits.cpuShares = h.cpuShares;
    if (h.pidsLimit > 0) limits.pidsLimit = h.pidsLimit;
    // Docker's list (deny the rest); --privileged: every device.
    limits.devicesAllowed = h.privileged ? [...ALLOW_ALL_DEVICES] : [...DEFAULT_DEVICE_RULES, ...devices.map(hostDeviceRule)];
    return limits;
  }

  async start(rec: ContainerView, image: ImageView, beforeGo: BeforeGo, opts: { netns?: string | undefined } = {}): Promise<StartResult> {
    this.cleanedAtExit.delete(rec.id);
    const cg = this.cgroupPath(rec.id);
    // Leftovers of a previous run (e.g. the daemon died mid-start) are cleared first; not the ones made at create.
    const madeWith = this.madeAtCreate.get(rec.id);
    this.madeAtCreate.delete(rec.id);
    if (madeWith === undefined) await this.o.cgroups.remove(cg).catch(() => undefined);
    try { unlinkSync(this.exitPath(rec.id)); } catch { /* none */ }
    try { unlinkSync(this.socketPath(rec.id)); } catch { /* none */ }
    // --device nodes are looked up once: the node the container gets and the cgroup rule that lets it in agree.
    const devices = hostDevices(rec);
    // the cgroup first: which dirs the init joins (procsFiles, in the spec) depends on what was made (GANTRY_MEMCG)
    let pending: PendingShim;
    this.joining++;
    try {
      const limits = this.cgroupLimits(rec, devices);
      if (JSON.stringify(limits) !== madeWith) this.o.cgroups.create(cg, limits);
      let spec: ContainerRuntimeSpec;
      try {
        spec = await this.buildSpec(rec, image, devices, opts.netns);
      } catch (e) {
        await this.o.cgroups.remove(cg).catch(() => undefined);
        throw e;
      }
      const specPath = join(this.dir(rec.id), 'spec');
      writeFileSync(specPath, encodeSpec(containerSpecEntries(spec)), { mode: 0o600 });
      try {
        pending = await PendingShim.spawn('run', specPath, this.spawner); // `ready`: the init is in its cgroups
      } catch (e) {
        await this.o.cgroups.remove(cg).catch(() => undefined);
        throw e;
      }
    } finally {
      this.joining--;
    }
    try {
      await beforeGo(pending.started.initPid);
    } catch (e) {
      await pending.abort();
      await this.o.cgroups.remove(cg).catch(() => undefined);
      throw e;
    }
    // The exit watcher connects before `go`, so even an instant exit is seen.
    const watcher = await connectShim(this.socketPath(rec.id));
    const outcome = await pending.go();
    if (outcome.kind !== 'started') {
      watcher.destroy();
      await this.o.cgroups.remove(cg).catch(() => undefined);
      const exitCode = outcome.kind === 'exec-error' ? outcome.exitCode : 255;
      const message = outcome.kind === 'exec-error' ? execErrorMessage(rec, outcome.exitCode, outcome.message) : outcome.message;
      return { kind: 'failed', exitCode, message };
    }
    return { kind: 'started', process: { pid: pending.started.initPid, shimPid: pending.started.shimPid, exited: this.watch(rec.id, watcher, pending.started.shimPid) } };
  }

  private watch(id: string, sock: Socket, shimPid: number): Promise<void> {
    this.watchers.set(id, sock);
    return watchExit(sock).then(() => {
      if (this.watchers.get(id) === sock) this.watchers.delete(id);
      const done = (): void => { sock.destroy(); reapShim(shimPid); };
      // A removal's shim releases the container's mounts and network namespace when this connection closes: after
      // the burst of removals it is part of (teardown-gate.ts).
      if (this.removalKills.delete(id) && this.o.background !== undefined) this.o.background.gate.later(done);
      else done();
    });
  }

  async reattach(rec: ContainerView): Promise<RunningProcess | undefined> {
    // A shim of a newer build is refused (and left running), never driven with a protocol it may not speak.
    const version = await shimProtocol(this.socketPath(rec.id)).catch(() => undefined);
    if (version !== undefined) checkShimProtocol(version, `the shim of container ${rec.name}`);
    const sock = await connectShim(this.socketPath(rec.id)).catch(() => undefined);
    if (sock === undefined) return undefined;
    return { pid: rec.state.pid, shimPid: rec.state.shimPid, exited: this.watch(rec.id, sock, rec.state.shimPid) };
  }

  /** Stops watching every shim (daemon shutdown): the containers live on. */
  release(running: readonly ContainerView[] = []): void {
    for (const s of this.watchers.values()) s.destroy();
    this.watchers.clear();
    this.spawner.stop();
    // the none-network sysfs (and its netns) stays while a container that binds it runs: the next daemon reuses it
    if (!running.some((r) => r.host.networkMode === 'none')) {
      try { unmountEmptyNetnsSysfs(join(this.o.runDir, 'sysfs-none')); } catch { /* not ours to unmount (no privilege) */ }
    }
    this.noneSysfs = undefined;
  }

  exitInfo(rec: ContainerView): ExitInfo | undefined {
    try {
      const [code, signal, finishedAt] = readFileSync(this.exitPath(rec.id), 'utf8').trim().split(' ');
      // empty after a host crash between the shim's rename and its fsync (docs/shim-protocol.md, "Exit"): unknown
      if (code === undefined || !/^\d+$/.test(code)) return undefined;
      return { exitCode: Number(code), signal: Number(signal ?? 0), finishedAt: finishedAt ?? new Date().toISOString() };
    } catch {
      return undefined;
    }
  }

  async cleanup(rec: ContainerView, opts: { removal?: boolean } = {}): Promise<{ oomKilled: boolean }> {
    // the exit's cleanup ran, and nothing can have joined the cgroups of a container that does not run since
    if (!isActive(rec.state.status) && this.cleanedAtExit.delete(rec.id)) return { oomKilled: false };
    this.madeAtCreate.delete(rec.id);
    if (isActive(rec.state.status)) this.cleanedAtExit.add(rec.id);
    const cg = this.cgroupPath(rec.id);
    if (opts.removal === true && this.o.background !== undefined) {
      // Removed next, under an id never used again: its cgroups go after the answer, off the main thread. Its
      // processes are dead (its pid namespace died with its init); the worker kills anything else still in them.
      let oomKilled = false;
      try { oomKilled = this.o.cgroups.oomKillCount(cg) > 0; } catch { /* no memory cgroup of its own */ }
      this.o.background.removeCgroups(this.o.cgroups.ownDirs(cg));
      // The shared cgroups only once no container runs: while the worker removes cgroups, an rmdir here waits for
      // the kernel's cgroup mutex (a tenth of the main thread's time in an rm -f of 500), and with any container
      // running they are in use anyway (every one joins the shared cpuset).
      if (this.joining === 0 && this.watchers.size === 0) this.o.cgroups.removeSharedIfUnused?.(this.o.prefix);
      return { oomKilled };
    }
    let oomKilled = false;
    try { oomKilled = this.o.cgroups.exists(cg) && this.o.cgroups.oomKillCount(cg) > 0; } catch { /* cgroup gone */ }
    // Anything left in the cgroup (exec sessions, daemons that escaped pid 1) goes with the container.
    try { if (this.o.cgroups.exists(cg)) this.o.cgroups.killAll(cg); } catch { /* gone */ }
    await this.o.cgroups.remove(cg).catch(() => undefined);
    if (this.joining === 0 && this.madeAtCreate.size === 0) this.o.cgroups.removeSharedIfUnused?.(this.o.prefix);
    return { oomKilled };
  }

  // ---- signals -----------------------------------------------------------------------------------------------

  private async sendToShim(rec: ContainerView, data: Buffer): Promise<void> {
    // the exit watcher's connection takes frames too: no connection of its own per signal
    const watcher = this.watchers.get(rec.id);
    if (watcher !== undefined && !watcher.destroyed && watcher.writable) {
      const sent = await new Promise<boolean>((resolve) => watcher.write(data, (err) => resolve(err == null)));
      if (sent) return;
    }
    const sock = await connectShim(this.socketPath(rec.id)).catch(() => undefined);
    if (!sock) {
      // The shim is gone but its exit is not processed yet: fall back to the pid, checked by cgroup.
      if (rec.state.pid > 0 && this.o.cgroups.pids(this.cgroupPath(rec.id)).includes(rec.state.pid)) process.kill(rec.state.pid, 'SIGKILL');
      return;
    }
    await new Promise<void>((resolve) => sock.end(data, () => resolve()));
  }

  signal(rec: ContainerView, sig: number): Promise<void> { return this.sendToShim(rec, signalFrame(sig)); }
  forceKill(rec: ContainerView, opts: { removal?: boolean } = {}): Promise<void> {
    // `d` first: the shim reports the exit before it unmounts the container's tree (an older shim skips `d`)
    if (opts.removal === true) this.removalKills.add(rec.id);
    return this.sendToShim(rec, opts.removal === true ? Buffer.concat([frame('d'), frame('k')]) : frame('k'));
  }
  freeze(rec: ContainerView): Promise<void> { return this.o.cgroups.freeze(this.cgroupPath(rec.id)); }
  thaw(rec: ContainerView): Promise<void> { return this.o.cgroups.thaw(this.cgroupPath(rec.id)); }

  // ---- streams -------------------------------------------------------------------------------------------------

  async attach(rec: ContainerView, client: Duplex, opts: AttachOptions): Promise<{ done: Promise<void> }> {
    const { done } = await attachToShim(this.socketPath(rec.id), client, opts);
    return { done };
  }

  async resize(rec: ContainerView, rows: number, cols: number): Promise<void> {
    const s = await connectShim(this.socketPath(rec.id));
    await new Promise<void>((resolve) => s.end(resizeFrame(rows, cols), () => resolve()));
  }

  logs(rec: ContainerView, opts: LogReadOptions, stillRunning: () => boolean, signal: AbortSignal): AsyncIterable<LogEntry> {
    return readLogs(this.paths(rec.id).logPath, opts, stillRunning, signal);
  }

  // ---- exec ------------------------------------------------------------------------------------------------------

  async exec(rec: ContainerView, image: ImageView | undefined, x: ExecProcessSpec, client: Duplex | undefined): Promise<ExecProcess> {
    const dir = this.dir(rec.id);
    const socket = join(this.o.runDir, 'shims', `x${x.id.slice(0, 23)}.sock`);
    const root = this.rootLayers(rec, image);
    let user;
    try {
      user = await resolveUserAsync(x.user || rec.config.user, (p) => readContainerFile(root, p, USER_DB_MAX_BYTES));
    } catch (err) {
      // the connection is already the exec's stream: say why there, as Docker does, then fail the exec
      if (client && !client.destroyed && err instanceof GantryError) {
        client.end(x.tty ? Buffer.from(`${err.message}\r\n`) : dockerFrame(2, Buffer.from(`${err.message}\n`)));
      }
      throw err;
    }
    const exitFile = join(dir, `exec-${x.id}.exit`);
    const specPath = join(dir, `exec-${x.id}.spec`);
    const execJoin = this.cgroupJoin(rec.id);
    writeFileSync(specPath, encodeSpec(execSpecEntries({
      id: x.id, targetPid: rec.state.pid, args: x.args, env: mergeEnv(rec.config.env, x.env),
      cwd: x.cwd || rec.config.workingDir, uid: user.uid, gid: user.gid, groups: user.groups,
      capsMask: capabilityMask(rec.host.capAdd, rec.host.capDrop, rec.host.privileged || x.privileged),
      noNewPrivs: rec.host.noNewPrivileges === true,
      // the container's own filter (its capabilities, not the exec's: `exec --privileged` keeps it, as in Docker)
      seccompFilter: seccompFilterFor(rec.host.seccomp, capabilityMask(rec.host.capAdd, rec.host.capDrop, rec.host.privileged), rec.host.privileged),
      tty: x.tty, ttySize: x.consoleSize, stdin: x.stdin, exitFile, socket,
      cgroupSelf: execJoin.cgroupSelf, cgroupProcs: execJoin.cgroupProcs, detach: true,
    })), { mode: 0o600 });
    const pending = await PendingShim.spawn('exec', specPath, this.spawner);
    this.execSockets.set(x.id, socket);
    let attached: { done: Promise<void> } | undefined;
    const watcher = await connectShim(socket);
    const exited = new Promise<void>((resolve) => { watcher.on('close', () => resolve()); watcher.on('error', () => resolve()); watcher.resume(); })
      .then(() => reapShim(pending.started.shimPid));
    try {
      if (client) attached = await attachToShim(socket, client, { stdin: x.stdin, stdout: x.stdout, stderr: x.stderr, tty: x.tty, leaveClientOpen: true });
    } catch (err) {
      await pending.abort();
      this.execSockets.delete(x.id);
      throw err;
    }
    const outcome = await pending.go();
    const finished = (async (): Promise<number> => {
      await exited;
      let code = 255;
      try { code = Number(readFileSync(exitFile, 'utf8').split(' ')[0]); } catch { /* shim died */ }
      await attached?.done;
      if (outcome.kind !== 'started') {
        // Like docker: an exec that never started says why on its stream; a setup failure (e.g. chdir into a
        // missing -w dir) is status 126.
        code = outcome.kind === 'exec-error' ? outcome.exitCode : 126;
        const why = outcome.kind === 'exec-error'
          ? `exec: "${x.args[0]}": ${code === 127 ? 'executable file not found in $PATH' : 'permission denied'}`
          : outcome.message;
        const msg = Buffer.from(`OCI runtime exec failed: ${why}\r\n`);
        if (client && !client.destroyed && !client.writableEnded) client.write(x.tty ? msg : dockerFrame(2, msg));
      }
      if (client && !client.destroyed && !client.writableEnded) client.end();
      this.execSockets.delete(x.id);
      rmSync(exitFile, { force: true });
      rmSync(specPath, { force: true });
      return code;
    })();
    return { pid: pending.started.initPid, finished };
  }

  async resizeExec(execId: string, rows: number, cols: number): Promise<void> {
    const socket = this.execSockets.get(execId);
    const notRunning = (): GantryError => new GantryError('CONFLICT', `exec ${execId.slice(0, 12)} is not running`, { hint: 'a terminal can be resized only while its exec runs' });
    if (socket === undefined) throw notRunning();
    // The exec may end between the lookup and the connect: its socket is then gone, which is the same answer.
    const s = await connectShim(socket).catch(() => { throw notRunning(); });
    await new Promise<void>((resolve) => s.end(resizeFrame(rows, cols), () => resolve()));
  }

  killExec(pid: number): void {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }

  // ---- what runs -------------------------------------------------------------------------------------------------

  processes(rec: ContainerView): ProcessInfo[] {
    const pids = this.o.cgroups.pids(this.cgroupPath(rec.id)).sort((a, b) => a - b);
    const ticks = 100;
    return pids.flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? '?';
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || `[${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}]`;
        const cpuSecs = Math.floor((Number(after[11]) + Number(after[12])) / ticks);
        const time = `${String(Math.floor(cpuSecs / 3600)).padStart(2, '0')}:${String(Math.floor(cpuSecs / 60) % 60).padStart(2, '0')}:${String(cpuSecs % 60).padStart(2, '0')}`;
        return [{ uid, pid, ppid: after[1] ?? '?', time, cmd }];
      } catch {
        return [];
      }
    });
  }

  async updateLimits(rec: ContainerView): Promise<void> {
    const { devicesAllowed: _devices, ...limits } = this.cgroupLimits(rec, []);
    // Devices stay as they are (rewriting them would deny every device for a moment). A limit set to 0 (none) is
    // not lifted from a running container: it takes effect at its next start.
    this.o.cgroups.create(this.cgroupPath(rec.id), limits);
  }

  usage(rec: ContainerView): ContainerUsage {
    let networks: Record<string, InterfaceCounters> | undefined;
    try {
      if (rec.host.networkMode !== 'host' && rec.state.pid > 0) networks = parseNetDev(readFileSync(`/proc/${rec.state.pid}/net/dev`, 'utf8'));
    } catch { /* exited meanwhile */ }
    return { ...this.o.cgroups.stats(this.cgroupPath(rec.id)), ...hostCpu(), ...(networks ? { networks } : {}) };
  }

  // ---- recovery --------------------------------------------------------------------------------------------------

  async sweep(active: ReadonlySet<string>, unknownButPresent: ReadonlySet<string>): Promise<void> {
    for (const path of this.o.cgroups.list(this.o.prefix)) {
      const id = path.split('/').pop() ?? '';
      // A container whose record cannot be read is left alone: its processes may be someone's live data.
      if (active.has(id) || unknownButPresent.has(id)) continue;
      try { this.o.cgroups.killAll(path); } catch { /* gone */ }
      await this.o.cgroups.remove(path).catch(() => undefined);
    }
  }
}

/** The container's --device nodes as the host has them now (Docker looks them up at each start too). */
function hostDevices(rec: ContainerView): HostDevice[] {
  return (rec.host.devices ?? []).map(lookupHostDevice);
}

function execErrorMessage(rec: ContainerView, code: number, shimMessage: string): string {
  const cmd = rec.config.entrypoint[0] ?? rec.config.cmd[0] ?? '';
  if (code === 127) return `exec: "${cmd}": executable file not found in $PATH`;
  return `exec: "${cmd}": permission denied (${shimMessage})`;
}

/** The host's CPU time since boot (all CPUs, /proc/stat in USER_HZ = 100) and its CPU count. */
export function hostCpu(): { systemCpuNanos: number; onlineCpus: number } {
  let systemCpuNanos = 0;
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    systemCpuNanos = line.split(/\s+/).slice(1).map(Number).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) * 1e7;
  } catch { /* no /proc */ }
  let onlineCpus = 1;
  try { onlineCpus = readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d)).length || 1; } catch { /* no sysfs */ }
  return { systemCpuNanos, onlineCpus };
}
