// Container lifecycle: create, start, stop, kill, pause, remove, wait, restart policies, and recovery after a
// daemon restart. The only effectful owner of container records; every state change is persisted atomically.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { GantryError } from '../../common/errors.js';
import { newId, randomName, shortId } from '../../common/ids.js';
import { KeyedMutex } from '../../common/mutex.js';
import { parseSignal } from '../../common/units.js';
import type { CgroupDriver, CgroupLimits } from '../cgroups/index.js';
import type { EventBus } from '../events/bus.js';
import { shimLogSettings } from '../logs/config.js';
import { capabilityMask } from '../runtime/capabilities.js';
import { PendingShim } from '../runtime/shim-process.js';
import { connectShim, frame, signalFrame, watchExit } from '../runtime/shim-socket.js';
import {
  baseMounts, containerSpecEntries, DEFAULT_DEVICES, DEFAULT_SYMLINKS, encodeSpec, MASKED_PATHS, MS, READONLY_PATHS,
  rlimitNumber, type ContainerRuntimeSpec, type Namespace, type SpecMount,
} from '../runtime/spec.js';
import { resolveUser } from '../runtime/user.js';
import { copyUpIntoVolume } from '../volumes/copy-up.js';
import type { VolumeStore } from '../volumes/store.js';
import { validateCreate, type CreateRequest } from './create-request.js';
import type { ContainerNetworking, ImageSource, ImageView } from './deps.js';
import { initialState, isActive, type ContainerRecord } from './record.js';
import { nextBackoff, shouldRestart } from './restart-policy.js';
import { readContainerFile } from './rootfs-files.js';
import type { ContainerStore } from './store.js';

export interface ManagerOptions {
  store: ContainerStore;
  images: ImageSource;
  volumes: VolumeStore;
  cgroups: CgroupDriver;
  events: EventBus;
  /** Runtime dir (beside the API socket): shim sockets live here. */
  runDir: string;
  /** Kernel object prefix, e.g. "gantry" → cgroups `gantry/<id>`. */
  prefix: string;
  networking?: ContainerNetworking | undefined;
}

export interface ExitInfo { exitCode: number; signal: number; finishedAt: string }

type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/** Things that want to hear about a container's start (attach streams queued before start). */
export type StartHook = (rec: ContainerRecord, socketPath: string) => Promise<void>;

export class ContainerManager {
  private readonly lock = new KeyedMutex();
  private readonly watchers = new Map<string, Socket>();
  private readonly exitWaiters = new Map<string, Array<(code: number) => void>>();
  private readonly removeWaiters = new Map<string, Array<(code: number) => void>>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly backoff = new Map<string, number>();
  private readonly beforeGoHooks = new Map<string, StartHook[]>();
  private shuttingDown = false;

  constructor(private readonly o: ManagerOptions) {
    mkdirSync(join(o.runDir, 'shims'), { recursive: true, mode: 0o700 });
  }

  // ---- paths ---------------------------------------------------------------------------------------------

  dir(id: string): string { return this.o.store.containerDir(id); }
  logPath(id: string): string { return join(this.dir(id), 'log'); }
  socketPath(id: string): string { return join(this.o.runDir, 'shims', `${id.slice(0, 24)}.sock`); }
  cgroupPath(id: string): string { return `${this.o.prefix}/${id}`; }
  private exitPath(id: string): string { return join(this.dir(id), 'exit'); }

  /** A container event in Docker's shape: the attributes carry the name, the image and every label. */
  private emit(action: string, rec: ContainerRecord, extra: Record<string, string> = {}): void {
    this.o.events.emit('container', action, rec.id, { ...rec.config.labels, image: rec.config.image, name: rec.name, ...extra });
  }

  // ---- create ----------------------------------------------------------------------------------------------

  async create(req: CreateRequest): Promise<ContainerRecord> {
    this.o.cgroups.prewarm?.(); // a start usually follows: let the kernel's wait for it begin now
    const image = this.o.images.lookup(req.body.Image ?? '');
    const v = validateCreate(req, image);
    if (v.name !== undefined && this.o.store.byName(v.name)) {
      const other = this.o.store.byName(v.name)!;
      throw new GantryError('NAME_IN_USE', `the container name "/${v.name}" is already in use by container ${shortId(other.id)}`,
        { hint: 'remove that container (gantry rm) or choose another --name' });
    }
    for (const m of v.host.mounts) if (m.type === 'volume' && m.source === '') throw new GantryError('INVALID_ARGUMENT', `volume mount at ${m.target} needs a volume name`);
    if (v.host.networkMode.startsWith('container:')) this.o.store.get(v.host.networkMode.slice('container:'.length));
    this.o.networking?.validate?.(v.host);
    const id = newId();
    let name = v.name;
    while (name === undefined || this.o.store.byName(name)) name = randomName();
    const rec: ContainerRecord = { id, name, created: new Date().toISOString(), config: v.config, host: v.host, state: initialState() };
    if (!rec.config.hostname) rec.config.hostname = rec.host.networkMode === 'host' ? osHostname() : shortId(id);
    const dir = this.dir(id);
    try {
      for (const sub of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
      // The container's `/` takes its owner and mode from the upper dir: give it those of the image's root.
      const top = image.layerDirs[0];
      const rootStat = top === undefined ? undefined : statSync(top);
      chmodSync(join(dir, 'upper'), rootStat ? rootStat.mode & 0o7777 : 0o755);
      if (rootStat) chownSync(join(dir, 'upper'), rootStat.uid, rootStat.gid);
      for (const target of v.anonymousVolumeTargets) {
        const vol = this.o.volumes.create(newId(), { anonymous: true });
        rec.host.mounts.push({ type: 'volume', source: vol.name, target, readOnly: false });
      }
      for (const m of rec.host.mounts) if (m.type === 'volume') this.o.volumes.create(m.source);
      this.writeEtcFiles(rec);
      this.o.store.save(rec);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    this.emit('create', rec);
    return rec;
  }

  private writeEtcFiles(rec: ContainerRecord): void {
    const dir = this.dir(rec.id);
    writeFileSync(join(dir, 'hostname'), `${rec.config.hostname}\n`);
    if (rec.host.networkMode === 'host') {
      copyFileSync('/etc/hosts', join(dir, 'hosts'));
    } else {
      const extra = rec.host.extraHosts.map((h) => { const i = h.indexOf(':'); return `${h.slice(i + 1)}\t${h.slice(0, i)}`; });
      writeFileSync(join(dir, 'hosts'), ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback',
        `127.0.1.1\t${rec.config.hostname}`, ...extra, ''].join('\n'));
    }
    let resolv = '';
    try { resolv = readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* none on the host */ }
    if (rec.host.dns.length > 0 || rec.host.dnsSearch.length > 0) {
      resolv = [...rec.host.dns.map((d) => `nameserver ${d}`), ...(rec.host.dnsSearch.length ? [`search ${rec.host.dnsSearch.join(' ')}`] : []), ''].join('\n');
    }
    writeFileSync(join(dir, 'resolv.conf'), resolv);
  }

  // ---- start -----------------------------------------------------------------------------------------------

  /** Registers a hook run between the shim's `ready` and `go` of the next start (attach before start). */
  onNextStart(id: string, hook: StartHook): () => void {
    const list = this.beforeGoHooks.get(id) ?? [];
    list.push(hook);
    this.beforeGoHooks.set(id, list);
    return () => {
      const l = this.beforeGoHooks.get(id);
      if (l) this.beforeGoHooks.set(id, l.filter((h) => h !== hook));
    };
  }

  async start(ref: string): Promise<ContainerRecord> {
    const rec = this.o.store.get(ref);
    return this.lock.run(rec.id, async () => {
      const cur = this.o.store.get(rec.id);
      if (cur.state.status === 'running' || cur.state.status === 'paused') return cur;
      const timer = this.restartTimers.get(cur.id);
      if (timer) { clearTimeout(timer); this.restartTimers.delete(cur.id); }
      cur.state.manuallyStopped = false;
      await this.startLocked(cur);
      return cur;
    });
  }

  private imageFor(rec: ContainerRecord): ImageView {
    const img = this.o.images.byId(rec.config.imageId);
    if (!img) throw new GantryError('IMAGE_NOT_FOUND', `the image of container ${rec.name} (${rec.config.imageId}) is gone`, { hint: 'recreate the container from an existing image' });
    return img;
  }

  /** The running container whose network a `container:` mode container joins, followed through chains of them. */
  private networkPeer(rec: ContainerRecord): ContainerRecord {
    let cur = rec;
    for (let hops = 0; cur.host.networkMode.startsWith('container:'); hops++) {
      const other = this.o.store.get(cur.host.networkMode.slice('container:'.length));
      if (other.id === rec.id || hops > 16) throw new GantryError('INVALID_ARGUMENT', `container ${rec.name} cannot join its own network`, { hint: 'use --network container:OTHER with another container' });
      if (other.state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', `cannot join the network of container ${other.name}: it is not running`, { hint: `start it first: gantry start ${other.name}` });
      cur = other;
    }
    return cur;
  }

  private buildSpec(rec: ContainerRecord, image: ImageView): ContainerRuntimeSpec {
    const dir = this.dir(rec.id);
    const user = resolveUser(rec.config.user, (p) => readContainerFile(join(dir, 'upper'), image.layerDirs, p));
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
      namespaces.push('net');
    }
    const mounts: SpecMount[] = baseMounts(rec.host.shmSizeBytes);
    if (rec.host.networkMode === 'host') {
      // sysfs of the host's network namespace: bind it read-only rather than mounting a new instance.
      mounts[mounts.length - 1] = { source: '/sys', target: '/sys', fstype: 'none', flags: MS.BIND | MS.REC | MS.RDONLY, data: '' };
    }
    for (const f of ['hostname', 'hosts', 'resolv.conf']) {
      mounts.push({ source: join(peer === undefined ? dir : this.dir(peer.id), f), target: `/etc/${f}`, fstype: 'none', flags: MS.BIND, data: '' });
    }
    for (const m of rec.host.mounts) {
      if (m.type === 'tmpfs') {
        mounts.push({ source: 'tmpfs', target: m.target, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV | (m.readOnly ? MS.RDONLY : 0), data: m.tmpfsOptions ?? '' });
      } else {
        const source = m.type === 'volume' ? this.o.volumes.dataDir(m.source) : m.source;
        if (m.type === 'volume' && !m.noCopy) copyUpIntoVolume(image.layerDirs, join(dir, 'upper'), m.target, source);
        if (!existsSync(source)) throw new GantryError('BIND_SOURCE_MISSING', `bind source path does not exist: ${source}`, { hint: 'create it on the host, or recreate the container' });
        mounts.push({ source, target: m.target, fstype: 'none', flags: MS.BIND | MS.REC | (m.readOnly ? MS.RDONLY : 0), data: '' });
      }
    }
    const lower = image.layerDirs.join(':');
    return {
      id: rec.id, rootfs: join(dir, 'rootfs'),
      overlayOptions: `lowerdir=${lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`,
      namespaces, netnsPath, hostname, mounts, symlinks: DEFAULT_SYMLINKS,
      // With a tty, the shim binds the pty slave over /dev/console (the node only marks the mountpoint).
      devices: rec.config.tty ? [...DEFAULT_DEVICES, { path: '/dev/console', type: 'c', major: 5, minor: 1 }] : DEFAULT_DEVICES,
      maskedPaths: rec.host.privileged ? [] : MASKED_PATHS, readonlyPaths: rec.host.privileged ? [] : READONLY_PATHS,
      sysctls: rec.host.sysctls, readonlyRootfs: rec.host.readonlyRootfs,
      rlimits: rec.host.ulimits.map((u) => ({ resource: rlimitNumber(u.name), soft: u.soft, hard: u.hard })),
      oomScoreAdj: rec.host.oomScoreAdj, init: rec.host.init, ...shimLogSettings(rec, this.logPath(rec.id)),
      args: [...rec.config.entrypoint, ...rec.config.cmd], env, cwd: rec.config.workingDir,
      uid: user.uid, gid: user.gid, groups: user.groups,
      capsMask: capabilityMask(rec.host.capAdd, rec.host.capDrop, rec.host.privileged), noNewPrivs: false,
      tty: rec.config.tty, stdin: rec.config.openStdin, exitFile: this.exitPath(rec.id), socket: this.socketPath(rec.id),
      cgroupProcs: this.o.cgroups.procsFiles(this.cgroupPath(rec.id)),
    };
  }

  cgroupLimits(rec: ContainerRecord): CgroupLimits {
    const h = rec.host;
    const limits: CgroupLimits = {};
    if (h.memoryBytes > 0) {
      limits.memoryBytes = h.memoryBytes;
      limits.memorySwapBytes = h.memorySwapBytes !== 0 ? h.memorySwapBytes : h.memoryBytes * 2;
    }
    if (h.nanoCpus > 0) { limits.cpuPeriodMicros = 100_000; limits.cpuQuotaMicros = Math.max(1000, Math.round((h.nanoCpus / 1e9) * 100_000)); }
    if (h.cpuShares > 0) limits.cpuShares = h.cpuShares;
    if (h.pidsLimit > 0) limits.pidsLimit = h.pidsLimit;
    return limits;
  }

  private async startLocked(rec: ContainerRecord): Promise<void> {
    this.o.cgroups.prewarm?.();
    const image = this.imageFor(rec);
    const cg = this.cgroupPath(rec.id);
    // Leftovers of a previous run (e.g. the daemon died mid-start) are cleared first.
    await this.o.cgroups.remove(cg).catch(() => undefined);
    try { unlinkSync(this.exitPath(rec.id)); } catch { /* none */ }
    try { unlinkSync(this.socketPath(rec.id)); } catch { /* none */ }
    const spec = this.buildSpec(rec, image);
    this.o.cgroups.create(cg, this.cgroupLimits(rec));
    const specPath = join(this.dir(rec.id), 'spec');
    writeFileSync(specPath, encodeSpec(containerSpecEntries(spec)), { mode: 0o600 });
    let pending: PendingShim;
    try {
      pending = await PendingShim.spawn('run', specPath);
    } catch (e) {
      await this.o.cgroups.remove(cg).catch(() => undefined);
      throw e;
    }
    try {
      await this.o.networking?.attach(rec.id, pending.started.initPid);
      for (const hook of this.beforeGoHooks.get(rec.id) ?? []) await hook(rec, this.socketPath(rec.id));
      this.beforeGoHooks.delete(rec.id);
    } catch (e) {
      await pending.abort();
      await this.o.networking?.detach(rec.id).catch(() => undefined);
      await this.o.cgroups.remove(cg).catch(() => undefined);
      throw e;
    }
    // The exit watcher connects before `go`, so even an instant exit is seen.
    const watcher = await connectShim(this.socketPath(rec.id));
    const outcome = await pending.go();
    const now = new Date().toISOString();
    rec.state = { ...rec.state, generation: rec.state.generation + 1, pid: pending.started.initPid, shimPid: pending.started.shimPid,
      startedAt: now, exitCode: 0, error: '', oomKilled: false, status: 'running', health: rec.config.healthcheck ? { status: 'starting', failingStreak: 0, log: [] } : undefined };
    if (outcome.kind !== 'started') {
      watcher.destroy();
      const exitCode = outcome.kind === 'exec-error' ? outcome.exitCode : 255;
      const message = outcome.kind === 'exec-error' ? execErrorMessage(rec, outcome.exitCode, outcome.message) : outcome.message;
      await this.o.networking?.detach(rec.id).catch(() => undefined);
      await this.o.cgroups.remove(cg).catch(() => undefined);
      rec.state = { ...rec.state, status: 'exited', pid: 0, shimPid: 0, exitCode, error: message, finishedAt: new Date().toISOString() };
      this.o.store.save(rec);
      this.resolveExitWaiters(rec.id, exitCode);
      throw new GantryError(exitCode === 127 ? 'COMMAND_NOT_FOUND' : exitCode === 126 ? 'COMMAND_NOT_EXECUTABLE' : 'SHIM_FAILED', message,
        { detail: { exitCode }, hint: exitCode === 127 ? 'check the command name and the image\'s PATH' : undefined });
    }
    this.o.store.save(rec);
    this.emit('start', rec);
    this.watch(rec.id, rec.state.generation, watcher);
  }

  private watch(id: string, generation: number, sock: Socket): void {
    this.watchers.set(id, sock);
    void watchExit(sock).then(async () => {
      sock.destroy();
      if (this.watchers.get(id) === sock) this.watchers.delete(id);
      if (this.shuttingDown) return; // the shim lives on; the next daemon picks it up
      await this.lock.run(id, () => this.handleExit(id, generation, false));
    });
  }

  // ---- exit and restart --------------------------------------------------------------------------------------

  readExitFile(id: string): ExitInfo | undefined {
    try {
      const [code, signal, finishedAt] = readFileSync(this.exitPath(id), 'utf8').trim().split(' ');
      return { exitCode: Number(code), signal: Number(signal), finishedAt: finishedAt ?? new Date().toISOString() };
    } catch {
      return undefined;
    }
  }

  private async handleExit(id: string, generation: number, daemonStarting: boolean): Promise<void> {
    const rec = this.o.store.find(id);
    if (!rec || rec.state.generation !== generation || !isActive(rec.state.status)) return;
    const info = this.readExitFile(id) ?? { exitCode: 255, signal: 0, finishedAt: new Date().toISOString() };
    const cg = this.cgroupPath(id);
    let oomKilled = false;
    try { oomKilled = this.o.cgroups.exists(cg) && this.o.cgroups.oomKillCount(cg) > 0; } catch { /* cgroup gone */ }
    // Anything left in the cgroup (exec sessions, daemons that escaped pid 1) goes with the container.
    try { if (this.o.cgroups.exists(cg)) this.o.cgroups.killAll(cg); } catch { /* gone */ }
    await this.o.cgroups.remove(cg).catch(() => undefined);
    await this.o.networking?.detach(id).catch(() => undefined);
    const ranFor = Date.parse(info.finishedAt) - Date.parse(rec.state.startedAt);
    rec.state = { ...rec.state, status: 'exited', pid: 0, shimPid: 0, exitCode: info.exitCode, oomKilled, finishedAt: info.finishedAt };
    const restart = !this.shuttingDown && shouldRestart(rec.host.restartPolicy, { exitCode: info.exitCode, manuallyStopped: rec.state.manuallyStopped,
      restartCount: rec.state.restartCount, daemonStarting });
    if (restart) rec.state.status = 'restarting';
    this.o.store.save(rec);
    if (oomKilled) this.emit('oom', rec);
    this.emit('die', rec, { exitCode: String(info.exitCode) });
    this.resolveExitWaiters(id, info.exitCode);
    if (restart) {
      const delay = nextBackoff(this.backoff.get(id) ?? 0, Number.isFinite(ranFor) ? ranFor : 0);
      this.backoff.set(id, delay);
      this.restartTimers.set(id, setTimeout(() => {
        this.restartTimers.delete(id);
        void this.lock.run(id, async () => {
          const cur = this.o.store.find(id);
          if (!cur || cur.state.status !== 'restarting') return;
          cur.state.restartCount += 1;
          try {
            await this.startLocked(cur);
            this.emit('restart', cur);
          } catch (e) {
            const now = this.o.store.find(id);
            if (now && now.state.status === 'restarting') { now.state.status = 'exited'; now.state.error = String((e as Error).message); this.o.store.save(now); }
          }
        });
      }, delay));
    } else if (rec.host.autoRemove) {
      await this.removeLocked(rec, { force: false, volumes: true });
    }
  }

  private resolveExitWaiters(id: string, code: number): void {
    for (const w of this.exitWaiters.get(id) ?? []) w(code);
    this.exitWaiters.delete(id);
  }

  // ---- stop / kill / pause -----------------------------------------------------------------------------------

  private async sendToShim(rec: ContainerRecord, data: Buffer): Promise<void> {
    const sock = await connectShim(this.socketPath(rec.id)).catch(() => undefined);
    if (!sock) {
      // The shim is gone but we have not processed the exit yet: fall back to the pid, checked by cgroup.
      if (rec.state.pid > 0 && this.o.cgroups.pids(this.cgroupPath(rec.id)).includes(rec.state.pid)) process.kill(rec.state.pid, 'SIGKILL');
      return;
    }
    await new Promise<void>((resolve) => sock.end(data, () => resolve()));
  }

  private waitExit(id: string, timeoutMs: number): Promise<boolean> {
    const rec = this.o.store.find(id);
    if (!rec || !isActive(rec.state.status) || rec.state.status === 'restarting') return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = timeoutMs >= 0 ? setTimeout(() => resolve(false), timeoutMs) : undefined;
      this.addExitWaiter(id, () => { if (t) clearTimeout(t); resolve(true); });
    });
  }

  private addExitWaiter(id: string, fn: (code: number) => void): void {
    const list = this.exitWaiters.get(id) ?? [];
    list.push(fn);
    this.exitWaiters.set(id, list);
  }

  async stop(ref: string, timeoutSeconds?: number, signal?: string): Promise<ContainerRecord> {
    const rec = this.o.store.get(ref);
    const timer = this.restartTimers.get(rec.id);
    if (timer) {
      clearTimeout(timer);
      this.restartTimers.delete(rec.id);
    }
    const exited = this.lock.run(rec.id, async () => {
      rec.state.manuallyStopped = true;
      if (rec.state.status === 'restarting') rec.state.status = 'exited';
      this.o.store.save(rec);
      if (!isActive(rec.state.status)) return undefined;
      if (rec.state.status === 'paused') await this.o.cgroups.thaw(this.cgroupPath(rec.id)).catch(() => undefined);
      const sig = parseSignal(signal ?? rec.config.stopSignal);
      const waiting = this.waitExit(rec.id, (timeoutSeconds ?? rec.config.stopTimeout) * 1000);
      await this.sendToShim(rec, signalFrame(sig));
      // Wrapped: the exit handler needs this lock, so the wait must happen outside it.
      return { waiting };
    });
    const graceful = await (await exited)?.waiting;
    if (graceful === false) {
      const dead = this.waitExit(rec.id, 10_000);
      await this.sendToShim(rec, frame('k'));
      await dead;
    }
    await this.waitExit(rec.id, 10_000);
    this.emit('stop', rec);
    return rec;
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.o.store.get(ref);
    const sig = parseSignal(signal);
    if (!isActive(rec.state.status) || rec.state.status === 'restarting') {
      throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`, { hint: `start it first: gantry start ${rec.name}` });
    }
    rec.state.manuallyStopped = true;
    this.o.store.save(rec);
    if (rec.state.status === 'paused' && sig === 9) await this.o.cgroups.thaw(this.cgroupPath(rec.id)).catch(() => undefined);
    await this.sendToShim(rec, sig === 9 ? frame('k') : signalFrame(sig));
    this.emit('kill', rec, { signal: String(sig) });
  }

  async restart(ref: string, timeoutSeconds?: number): Promise<ContainerRecord> {
    await this.stop(ref, timeoutSeconds);
    return this.start(ref);
  }

  async pause(ref: string): Promise<void> {
    const rec = this.o.store.get(ref);
    await this.lock.run(rec.id, async () => {
      if (rec.state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`, { hint: 'only a running container can be paused' });
      await this.o.cgroups.freeze(this.cgroupPath(rec.id));
      rec.state.status = 'paused';
      this.o.store.save(rec);
    });
    this.emit('pause', rec);
  }

  async unpause(ref: string): Promise<void> {
    const rec = this.o.store.get(ref);
    await this.lock.run(rec.id, async () => {
      if (rec.state.status !== 'paused') throw new GantryError('CONFLICT', `container ${rec.name} is not paused`);
      await this.o.cgroups.thaw(this.cgroupPath(rec.id));
      rec.state.status = 'running';
      this.o.store.save(rec);
    });
    this.emit('unpause', rec);
  }

  // ---- wait / remove -------------------------------------------------------------------------------------------

  async wait(ref: string, condition: WaitCondition = 'not-running'): Promise<number> {
    const rec = this.o.store.get(ref);
    if (condition === 'removed') {
      return new Promise((resolve) => {
        const list = this.removeWaiters.get(rec.id) ?? [];
        list.push(resolve);
        this.removeWaiters.set(rec.id, list);
      });
    }
    if (condition === 'not-running' && (!isActive(rec.state.status) || rec.state.status === 'restarting')) return rec.state.exitCode;
    return new Promise((resolve) => this.addExitWaiter(rec.id, resolve));
  }

  async remove(ref: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const rec = this.o.store.get(ref);
    if (isActive(rec.state.status) && rec.state.status !== 'restarting') {
      if (!opts.force) {
        throw new GantryError('CONTAINER_RUNNING', `cannot remove container ${rec.name}: it is ${rec.state.status}`, { hint: 'stop it first (gantry stop) or use gantry rm -f' });
      }
      await this.kill(rec.id, 'SIGKILL').catch(() => undefined);
      await this.waitExit(rec.id, 10_000);
    }
    await this.lock.run(rec.id, async () => {
      const cur = this.o.store.find(rec.id);
      if (cur) await this.removeLocked(cur, opts);
    });
  }

  private async removeLocked(rec: ContainerRecord, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const timer = this.restartTimers.get(rec.id);
    if (timer) { clearTimeout(timer); this.restartTimers.delete(rec.id); }
    await this.o.cgroups.remove(this.cgroupPath(rec.id)).catch(() => undefined);
    await this.o.networking?.detach(rec.id).catch(() => undefined);
    this.o.store.delete(rec.id);
    this.backoff.delete(rec.id);
    if (opts.volumes) {
      for (const m of rec.host.mounts) {
        const vol = m.type === 'volume' ? this.o.volumes.find(m.source) : undefined;
        if (vol?.anonymous && this.volumeUsers(vol.name).length === 0) this.o.volumes.remove(vol.name, []);
      }
    }
    this.emit('destroy', rec);
    for (const w of this.removeWaiters.get(rec.id) ?? []) w(rec.state.exitCode);
    this.removeWaiters.delete(rec.id);
  }

  volumeUsers(name: string): string[] {
    return this.o.store.all().filter((r) => r.host.mounts.some((m) => m.type === 'volume' && m.source === name)).map((r) => r.name);
  }

  imageInUse(imageId: string): boolean {
    return this.o.store.all().some((r) => r.config.imageId === imageId);
  }

  // ---- recovery ------------------------------------------------------------------------------------------------

  /**
   * After a daemon (re)start: re-adopt running shims, record exits that happened while the daemon was down,
   * apply restart policies, and remove half-made objects.
   */
  async recover(orphanDirs: string[]): Promise<void> {
    for (const d of orphanDirs) rmSync(d, { recursive: true, force: true });
    const known = new Set(this.o.store.all().map((r) => r.id));
    for (const path of this.o.cgroups.list(this.o.prefix)) {
      const id = path.split('/').pop() ?? '';
      const rec = known.has(id) ? this.o.store.find(id) : undefined;
      if (!rec || !isActive(rec.state.status)) {
        try { this.o.cgroups.killAll(path); } catch { /* gone */ }
        await this.o.cgroups.remove(path).catch(() => undefined);
      }
    }
    for (const rec of this.o.store.all()) {
      if (rec.state.status === 'removing') { await this.removeLocked(rec, { force: true, volumes: false }); continue; }
      if (!isActive(rec.state.status)) continue;
      if (rec.state.status === 'restarting') {
        // The daemon died during a backoff: start it now.
        rec.state.status = 'running';
        void this.lock.run(rec.id, () => this.handleExit(rec.id, rec.state.generation, true));
        continue;
      }
      const sock = await connectShim(this.socketPath(rec.id)).catch(() => undefined);
      if (sock) {
        this.watch(rec.id, rec.state.generation, sock);
      } else {
        await this.lock.run(rec.id, () => this.handleExit(rec.id, rec.state.generation, true));
      }
    }
    // Docker's rule at daemon start: `always` comes back even after a manual stop; `unless-stopped` only if it was
    // not stopped by hand.
    for (const rec of this.o.store.all()) {
      if (rec.state.status !== 'exited') continue;
      const policy = rec.host.restartPolicy.name;
      if (policy === 'always' || (policy === 'unless-stopped' && !rec.state.manuallyStopped)) {
        void this.lock.run(rec.id, async () => {
          rec.state.manuallyStopped = false;
          await this.startLocked(rec).catch((e: unknown) => {
            rec.state.error = e instanceof Error ? e.message : String(e);
            this.o.store.save(rec);
          });
        });
      }
    }
  }

  /** Stops watching without touching containers: they outlive the daemon. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const t of this.restartTimers.values()) clearTimeout(t);
    for (const s of this.watchers.values()) s.destroy();
    this.watchers.clear();
  }
}

function execErrorMessage(rec: ContainerRecord, code: number, shimMessage: string): string {
  const cmd = rec.config.entrypoint[0] ?? rec.config.cmd[0] ?? '';
  if (code === 127) return `exec: "${cmd}": executable file not found in $PATH`;
  return `exec: "${cmd}": permission denied (${shimMessage})`;
}
