// Container lifecycle: create, start, stop, kill, pause, remove, wait, restart policies, and recovery after a
// daemon restart. The one writer of container records: every change goes through update() (a synchronous
// read-copy-write of the newest record, persisted atomically), so networking and health, which report here,
// can never lose each other's changes. Lifecycle operations on one container are serialised by a keyed lock.
// What runs processes is the ContainerRuntime (Linux: linux-runtime.ts; tests: an in-memory one).
import type { Duplex } from 'node:stream';
import { hostname as osHostname } from 'node:os';
import { GantryError } from '../../common/errors.js';
import { CONTAINER_NAME_RE, newId, randomName, shortId } from '../../common/ids.js';
import { KeyedMutex } from '../../common/mutex.js';
import { parseSignal } from '../../common/units.js';
import type { Clock, Timer } from '../clock.js';
import type { EventBus } from '../events/bus.js';
import { assertLogsReadable } from '../logs/config.js';
import type { LogEntry, LogReadOptions } from '../logs/reader.js';
import type { AttachOptions } from '../runtime/attach.js';
import type { VolumeStore } from '../volumes/store.js';
import { ANONYMOUS_TARGET_LABEL, checkResources, resolveContainerSpec, type ContainerSpec } from './container-spec.js';
import type { ContainerNetworking, ImageSource, ImageView } from './deps.js';
import { initialState, isActive, type ContainerRecord, type ContainerView, type HealthState, type HostSettings, type NetworkAttachment } from './record.js';
import { nextBackoff, shouldRestart } from './restart-policy.js';
import type { ContainerRuntime, ExitInfo, RunningProcess, StartResult } from './runtime.js';
import type { ContainerStore } from './store.js';
import type { TeardownGate } from './teardown-gate.js';

export interface ManagerOptions {
  store: ContainerStore;
  images: ImageSource;
  volumes: VolumeStore;
  runtime: ContainerRuntime;
  events: EventBus;
  clock: Clock;
  networking?: ContainerNetworking | undefined;
  /** Holds what removals leave to do while other removals are in flight (teardown-gate.ts). */
  teardown?: Pick<TeardownGate, 'begin'> | undefined;
}

/** What `update` may change. */
export type ContainerResourceUpdate = Partial<Pick<HostSettings, 'memoryBytes' | 'memorySwapBytes' | 'nanoCpus' | 'cpuShares' | 'pidsLimit' | 'restartPolicy'>>;

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/** Runs between the process's creation and its first instruction on the next start (attach before start). */
export type StartHook = (rec: ContainerView) => Promise<void>;

export class ContainerManager {
  private readonly lock = new KeyedMutex();
  private readonly exitWaiters = new Map<string, Array<(code: number) => void>>();
  private readonly removeWaiters = new Map<string, Array<(code: number) => void>>();
  private readonly restartTimers = new Map<string, Timer>();
  private readonly backoff = new Map<string, number>();
  private readonly beforeGoHooks = new Map<string, StartHook[]>();
  /**
   * Containers being force-removed: killed without a record write, and their exit is not written either (the
   * removal deletes the record a moment later). A daemon killed in between finds the record as it was before the
   * `rm -f` and reconciles it with the processes, as after any crash.
   */
  private readonly removing = new Set<string>();
  private shuttingDown = false;

  constructor(private readonly o: ManagerOptions) {}

  /** A container event in Docker's shape: the attributes carry the name, the image and every label. */
  private emit(action: string, rec: ContainerView, extra: Record<string, string> = {}): void {
    this.o.events.emit('container', action, rec.id, { ...rec.config.labels, image: rec.config.image, name: rec.name, ...extra });
  }

  private now(): string { return new Date(this.o.clock.now()).toISOString(); }

  // ---- the one writer --------------------------------------------------------------------------------------

  /** Changes the newest record of `id` and persists it; returns the new view (undefined: no such container). */
  update(id: string, change: (rec: ContainerRecord) => void): ContainerView | undefined {
    const cur = this.o.store.find(id);
    if (cur === undefined) return undefined;
    const next = structuredClone(cur) as ContainerRecord;
    change(next);
    if (this.removing.has(id)) this.o.store.keepInMemory(next);
    else this.o.store.save(next);
    return next;
  }

  /** Networking reports a container's network configuration here (network connect/disconnect). */
  setNetworks(id: string, networkMode: string, networks: readonly NetworkAttachment[]): void {
    this.update(id, (r) => { r.host.networkMode = networkMode; r.host.networks = networks.map((n) => ({ ...n, aliases: [...n.aliases] })); });
  }

  /** Networking hands over the container's rendered /etc/hosts and resolv.conf (the runtime owns the files). */
  writeNetworkFiles(id: string, files: { hosts: string; resolvConf: string }): void {
    if (this.o.store.find(id) !== undefined) this.o.runtime.writeNetworkFiles(id, files);
  }

  /** The health monitor reports here; ignored when the container has started again since the probe began. */
  reportHealth(id: string, generation: number, health: HealthState, countRestart = false): ContainerView | undefined {
    const cur = this.o.store.find(id);
    if (cur === undefined || cur.state.generation !== generation) return undefined;
    return this.update(id, (r) => { r.state.health = health; if (countRestart) r.state.restartCount += 1; });
  }

  // ---- create ----------------------------------------------------------------------------------------------

  async create(spec: ContainerSpec): Promise<ContainerView> {
    this.o.runtime.prewarm(); // a start usually follows
    const image = this.o.images.lookup(spec.image);
    const v = resolveContainerSpec(spec, image);
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
    const rec: ContainerRecord = { id, name, created: this.now(), config: v.config, host: v.host, state: initialState() };
    if (!rec.config.hostname) rec.config.hostname = rec.host.networkMode === 'host' ? osHostname() : shortId(id);
    const made: string[] = [];
    try {
      for (const target of v.anonymousVolumeTargets) {
        const labels = spec.anonymousVolumeLabels === undefined ? undefined : { ...spec.anonymousVolumeLabels, [ANONYMOUS_TARGET_LABEL]: target };
        const vol = this.o.volumes.create(newId(), { anonymous: true, ...(labels !== undefined ? { labels } : {}) });
        made.push(vol.name);
        rec.host.mounts.push({ type: 'volume', source: vol.name, target, readOnly: false });
      }
      for (const m of rec.host.mounts) if (m.type === 'volume') this.o.volumes.create(m.source);
      this.o.runtime.prepare(rec, image);
      this.o.store.save(rec);
    } catch (e) {
      this.o.runtime.destroy(id);
      for (const name of made) { try { this.o.volumes.remove(name, []); } catch { /* best effort */ } }
      throw e;
    }
    this.emit('create', rec);
    return rec;
  }

  // ---- start -----------------------------------------------------------------------------------------------

  /** Registers a hook run between the process's creation and `go` of the next start (attach before start). */
  onNextStart(id: string, hook: StartHook): () => void {
    const list = this.beforeGoHooks.get(id) ?? [];
    list.push(hook);
    this.beforeGoHooks.set(id, list);
    return () => {
      const l = this.beforeGoHooks.get(id);
      if (l) this.beforeGoHooks.set(id, l.filter((h) => h !== hook));
    };
  }

  async start(ref: string): Promise<ContainerView> {
    const id = this.o.store.get(ref).id;
    return this.lock.run(id, async () => {
      const cur = this.o.store.get(id);
      if (cur.state.status === 'running' || cur.state.status === 'paused') return cur;
      this.cancelRestart(id);
      return this.startLocked(id, { byHand: true });
    });
  }

  private imageFor(rec: ContainerView): ImageView {
    const img = this.o.images.byId(rec.config.imageId);
    if (!img) throw new GantryError('IMAGE_NOT_FOUND', `the image of container ${rec.name} (${rec.config.imageId}) is gone`, { hint: 'recreate the container from an existing image' });
    return img;
  }

  /**
   * Starts the container. `byHand`: a start a user asked for (clears a manual stop); `restart`: a restart-policy
   * restart (counted in RestartCount). Both go into the one write that records the start.
   */
  private async startLocked(id: string, how: { byHand?: boolean; restart?: boolean } = {}): Promise<ContainerView> {
    const mark = (r: ContainerRecord): void => {
      if (how.byHand === true) r.state.manuallyStopped = false;
      if (how.restart === true) r.state.restartCount += 1;
    };
    const rec = this.o.store.get(id);
    const image = this.imageFor(rec);
    const beforeGo = async (pid: number): Promise<void> => {
      try {
        await this.o.networking?.attach(id, pid);
        for (const hook of this.beforeGoHooks.get(id) ?? []) await hook(rec);
        this.beforeGoHooks.delete(id);
      } catch (e) {
        await this.o.networking?.detach(id).catch(() => undefined);
        throw e;
      }
    };
    let result: StartResult;
    try {
      result = await this.o.runtime.start(rec, image, beforeGo, { netns: this.o.networking?.netnsFor?.(id) });
    } finally {
      this.o.networking?.netnsDone?.(id);
    }
    const now = this.now();
    if (result.kind === 'failed') {
      await this.o.networking?.detach(id).catch(() => undefined);
      const failed = this.update(id, (r) => {
        mark(r);
        r.state = { ...r.state, generation: r.state.generation + 1, status: 'exited', pid: 0, shimPid: 0, exitCode: result.exitCode,
          error: result.message, oomKilled: false, startedAt: now, finishedAt: now, health: undefined };
      })!;
      this.emit('die', failed, { exitCode: String(result.exitCode) });
      this.resolveExitWaiters(id, result.exitCode);
      const code = result.exitCode === 127 ? 'COMMAND_NOT_FOUND' : result.exitCode === 126 ? 'COMMAND_NOT_EXECUTABLE' : 'SHIM_FAILED';
      throw new GantryError(code, result.message, { detail: { exitCode: result.exitCode }, hint: result.exitCode === 127 ? 'check the command name and the image\'s PATH' : undefined });
    }
    const started = this.update(id, (r) => {
      mark(r);
      r.state = { ...r.state, generation: r.state.generation + 1, pid: result.process.pid, shimPid: result.process.shimPid,
        startedAt: now, exitCode: 0, error: '', oomKilled: false, status: 'running',
        health: r.config.healthcheck ? { status: 'starting', failingStreak: 0, log: [] } : undefined };
    })!;
    this.emit('start', started);
    this.watch(id, started.state.generation, result.process);
    return started;
  }

  private watch(id: string, generation: number, proc: RunningProcess): void {
    void proc.exited.then(async () => {
      if (this.shuttingDown) return; // the process lives on; the next daemon picks it up
      await this.lock.run(id, () => this.handleExit(id, generation, false));
    });
  }

  // ---- exit and restart --------------------------------------------------------------------------------------

  private async handleExit(id: string, generation: number, daemonStarting: boolean): Promise<void> {
    const rec = this.o.store.find(id);
    if (!rec || rec.state.generation !== generation || !isActive(rec.state.status)) return;
    const info: ExitInfo = this.o.runtime.exitInfo(rec) ?? { exitCode: 255, signal: 0, finishedAt: this.now() };
    const { oomKilled } = await this.o.runtime.cleanup(rec, { removal: this.removing.has(id) }).catch(() => ({ oomKilled: false }));
    const left = await this.o.networking?.detach(id, { removal: this.removing.has(id) }).catch(() => ({})) ?? {};
    const ranFor = Date.parse(info.finishedAt) - Date.parse(rec.state.startedAt);
    const restart = !this.shuttingDown && !this.removing.has(id) && shouldRestart(rec.host.restartPolicy, { exitCode: info.exitCode, manuallyStopped: rec.state.manuallyStopped,
      restartCount: rec.state.restartCount, daemonStarting });
    // --rm: the record is deleted right below; its exit is kept in memory only (as for `rm -f`, `removing`). A
    // daemon killed in between finds it running with its shim gone, and removes it then.
    const autoRemove = !restart && rec.host.autoRemove && !this.removing.has(id);
    if (autoRemove) this.removing.add(id);
    const exited = this.update(id, (r) => {
      r.state = { ...r.state, status: restart ? 'restarting' : 'exited', pid: 0, shimPid: 0, exitCode: info.exitCode, oomKilled, finishedAt: info.finishedAt };
      // Sticky addresses: kept in the record written here anyway, so remembering costs no write of its own.
      if (Object.keys(left).length > 0) r.state.lastAddresses = { ...r.state.lastAddresses, ...left };
    })!;
    if (oomKilled) this.emit('oom', exited);
    this.emit('die', exited, { exitCode: String(info.exitCode) });
    this.resolveExitWaiters(id, info.exitCode);
    if (restart) {
      const delay = nextBackoff(this.backoff.get(id) ?? 0, Number.isFinite(ranFor) ? ranFor : 0);
      this.backoff.set(id, delay);
      this.restartTimers.set(id, this.o.clock.after(delay, () => {
        this.restartTimers.delete(id);
        void this.lock.run(id, async () => {
          const cur = this.o.store.find(id);
          if (!cur || cur.state.status !== 'restarting') return;
          try {
            const again = await this.startLocked(id, { restart: true });
            this.emit('restart', again);
          } catch (e) {
            const now = this.o.store.find(id);
            if (now && now.state.status === 'restarting') this.update(id, (r) => { r.state.status = 'exited'; r.state.error = String((e as Error).message); });
          }
        });
      }));
    } else if (rec.host.autoRemove) {
      try {
        await this.removeLocked(id, { volumes: true });
      } finally {
        if (autoRemove) this.removing.delete(id);
      }
    }
  }

  private cancelRestart(id: string): void {
    this.restartTimers.get(id)?.cancel();
    this.restartTimers.delete(id);
  }

  private resolveExitWaiters(id: string, code: number): void {
    for (const w of this.exitWaiters.get(id) ?? []) w(code);
    this.exitWaiters.delete(id);
  }

  // ---- stop / kill / pause -----------------------------------------------------------------------------------

  private waitExit(id: string, timeoutMs: number): Promise<boolean> {
    const rec = this.o.store.find(id);
    if (!rec || !isActive(rec.state.status) || rec.state.status === 'restarting') return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = timeoutMs >= 0 ? this.o.clock.after(timeoutMs, () => resolve(false)) : undefined;
      this.addExitWaiter(id, () => { t?.cancel(); resolve(true); });
    });
  }

  private addExitWaiter(id: string, fn: (code: number) => void): void {
    const list = this.exitWaiters.get(id) ?? [];
    list.push(fn);
    this.exitWaiters.set(id, list);
  }

  async stop(ref: string, timeoutSeconds?: number, signal?: string): Promise<ContainerView> {
    const id = this.o.store.get(ref).id;
    this.cancelRestart(id);
    const exited = this.lock.run(id, async () => {
      const rec = this.update(id, (r) => { r.state.manuallyStopped = true; if (r.state.status === 'restarting') r.state.status = 'exited'; })!;
      if (!isActive(rec.state.status)) return undefined;
      if (rec.state.status === 'paused') await this.o.runtime.thaw(rec).catch(() => undefined);
      const sig = parseSignal(signal ?? rec.config.stopSignal);
      const waiting = this.waitExit(id, (timeoutSeconds ?? rec.config.stopTimeout) * 1000);
      await this.o.runtime.signal(rec, sig);
      // Wrapped: the exit handler needs this lock, so the wait must happen outside it.
      return { waiting };
    });
    const graceful = await (await exited)?.waiting;
    if (graceful === false) {
      const dead = this.waitExit(id, 10_000);
      const cur = this.o.store.find(id);
      if (cur) await this.o.runtime.forceKill(cur);
      await dead;
    }
    await this.waitExit(id, 10_000);
    const after = this.o.store.find(id) ?? this.o.store.get(ref);
    this.emit('stop', after);
    return after;
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.o.store.get(ref);
    const sig = parseSignal(signal);
    if (!isActive(rec.state.status) || rec.state.status === 'restarting') {
      throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`, { hint: `start it first: gantry start ${rec.name}` });
    }
    const cur = this.update(rec.id, (r) => { r.state.manuallyStopped = true; })!;
    if (cur.state.status === 'paused' && sig === 9) await this.o.runtime.thaw(cur).catch(() => undefined);
    // a force-removal's kill: the exit may be reported before the kernel has unmounted the container's tree
    if (sig === 9) await this.o.runtime.forceKill(cur, { removal: this.removing.has(rec.id) });
    else await this.o.runtime.signal(cur, sig);
    this.emit('kill', cur, { signal: String(sig) });
  }

  async restart(ref: string, timeoutSeconds?: number): Promise<ContainerView> {
    await this.stop(ref, timeoutSeconds);
    return this.start(ref);
  }

  async pause(ref: string): Promise<void> {
    const id = this.o.store.get(ref).id;
    const rec = await this.lock.run(id, async () => {
      const cur = this.o.store.get(id);
      if (cur.state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', `container ${cur.name} is not running`, { hint: 'only a running container can be paused' });
      await this.o.runtime.freeze(cur);
      return this.update(id, (r) => { r.state.status = 'paused'; })!;
    });
    this.emit('pause', rec);
  }

  async unpause(ref: string): Promise<void> {
    const id = this.o.store.get(ref).id;
    const rec = await this.lock.run(id, async () => {
      const cur = this.o.store.get(id);
      if (cur.state.status !== 'paused') throw new GantryError('CONFLICT', `container ${cur.name} is not paused`);
      await this.o.runtime.thaw(cur);
      return this.update(id, (r) => { r.state.status = 'running'; })!;
    });
    this.emit('unpause', rec);
  }

  // ---- streams -----------------------------------------------------------------------------------------------

  /** Connects a client now (running) or between the process's creation and its first instruction (created). */
  async attach(ref: string, client: Duplex, opts: Omit<AttachOptions, 'tty'>): Promise<void> {
    const rec = this.o.store.get(ref);
    const full = { ...opts, tty: rec.config.tty };
    if (rec.state.status === 'running' || rec.state.status === 'paused') {
      await this.o.runtime.attach(rec, client, full);
      return;
    }
    // Attached before start (docker run): connected before `go`, so nothing is missed.
    const cancel = this.onNextStart(rec.id, async (r) => { await this.o.runtime.attach(r, client, full); });
    client.on('close', cancel);
  }

  async resize(ref: string, rows: number, cols: number): Promise<void> {
    const rec = this.o.store.get(ref);
    if (rec.state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`);
    await this.o.runtime.resize(rec, rows, cols);
  }

  logs(ref: string, opts: LogReadOptions, signal: AbortSignal): AsyncIterable<LogEntry> {
    const rec = this.o.store.get(ref);
    assertLogsReadable(rec);
    return this.o.runtime.logs(rec, opts, () => { const cur = this.o.store.find(rec.id); return cur !== undefined && isActive(cur.state.status); }, signal);
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
    const answered = this.o.teardown?.begin();
    try {
      await this.removeRecord(rec, opts);
    } finally {
      answered?.();
    }
  }

  private async removeRecord(rec: ContainerView, opts: { force: boolean; volumes: boolean }): Promise<void> {
    if (isActive(rec.state.status) && rec.state.status !== 'restarting') {
      if (!opts.force) {
        throw new GantryError('CONTAINER_RUNNING', `cannot remove container ${rec.name}: it is ${rec.state.status}`, { hint: 'stop it first (gantry stop) or use gantry rm -f' });
      }
      this.removing.add(rec.id);
      try {
        await this.kill(rec.id, 'SIGKILL').catch(() => undefined);
        await this.waitExit(rec.id, 10_000);
        await this.lock.run(rec.id, async () => {
          if (this.o.store.find(rec.id)) await this.removeLocked(rec.id, opts);
        });
      } finally {
        this.removing.delete(rec.id);
      }
      return;
    }
    await this.lock.run(rec.id, async () => {
      if (this.o.store.find(rec.id)) await this.removeLocked(rec.id, opts);
    });
  }

  private async removeLocked(id: string, opts: { volumes: boolean }): Promise<void> {
    const rec = this.o.store.get(id);
    this.cancelRestart(id);
    await this.o.runtime.cleanup(rec).catch(() => undefined);
    await this.o.networking?.detach(id).catch(() => undefined);
    this.o.store.delete(id);
    this.o.runtime.destroy(id);
    this.backoff.delete(id);
    if (opts.volumes) {
      for (const m of rec.host.mounts) {
        const vol = m.type === 'volume' ? this.o.volumes.find(m.source) : undefined;
        if (vol?.anonymous && this.volumeUsers(vol.name).length === 0) this.o.volumes.remove(vol.name, []);
      }
    }
    this.emit('destroy', rec);
    for (const w of this.removeWaiters.get(id) ?? []) w(rec.state.exitCode);
    this.removeWaiters.delete(id);
  }

  /** `rename`: a new name for a container that is not running (its DNS names are taken at start). */
  async rename(ref: string, name: string): Promise<ContainerView> {
    const id = this.o.store.get(ref).id;
    return this.lock.run(id, async () => {
      const rec = this.o.store.get(id);
      const newName = name.replace(/^\//, '');
      if (!CONTAINER_NAME_RE.test(newName)) throw new GantryError('INVALID_ARGUMENT', `invalid container name "${name}"`, { hint: 'names match [a-zA-Z0-9][a-zA-Z0-9_.-]+' });
      const other = this.o.store.byName(newName);
      if (other && other.id !== rec.id) {
        throw new GantryError('NAME_IN_USE', `the container name "/${newName}" is already in use by container ${shortId(other.id)}`, { hint: 'remove that container or choose another name' });
      }
      // Running containers may be renamed too (Docker allows it): their DNS names follow; /etc/hosts inside keeps
      // the hostname it started with, as in Docker.
      const renamed = this.update(id, (r) => { r.name = newName; })!;
      if (isActive(rec.state.status)) this.o.networking?.renamed?.(id, rec.name, newName);
      this.emit('rename', renamed, { oldName: `/${rec.name}` });
      return renamed;
    });
  }

  /** `update`: new limits and restart policy, saved and (while it runs) applied to the container's cgroup. */
  async updateResources(ref: string, change: ContainerResourceUpdate): Promise<ContainerView> {
    const id = this.o.store.get(ref).id;
    return this.lock.run(id, async () => {
      const rec = this.o.store.get(id);
      const next = { ...rec.host, ...change, restartPolicy: change.restartPolicy ?? rec.host.restartPolicy };
      if (change.memoryBytes !== undefined && change.memorySwapBytes === undefined && rec.host.memorySwapBytes > 0) next.memorySwapBytes = 0;
      if (change.restartPolicy !== undefined && change.restartPolicy.name !== 'no' && rec.host.autoRemove) {
        throw new GantryError('CONFLICT', `cannot update the restart policy of ${rec.name}: it is removed at exit (--rm)`, { hint: 'create it again without --rm to give it a restart policy' });
      }
      checkResources(next);
      const updated = this.update(id, (r) => {
        r.host.memoryBytes = next.memoryBytes; r.host.memorySwapBytes = next.memorySwapBytes; r.host.nanoCpus = next.nanoCpus;
        r.host.cpuShares = next.cpuShares; r.host.pidsLimit = next.pidsLimit; r.host.restartPolicy = { ...next.restartPolicy };
      })!;
      if (isActive(updated.state.status) && updated.state.status !== 'restarting') await this.o.runtime.updateLimits(updated);
      this.emit('update', updated);
      return updated;
    });
  }

  volumeUsers(name: string): string[] {
    return this.o.store.all().filter((r) => r.host.mounts.some((m) => m.type === 'volume' && m.source === name)).map((r) => r.name);
  }

  imageInUse(imageId: string): boolean {
    return this.o.store.all().some((r) => r.config.imageId === imageId);
  }

  // ---- recovery ------------------------------------------------------------------------------------------------

  /**
   * After a daemon (re)start: re-adopt running processes, record exits that happened while the daemon was down,
   * apply restart policies, and remove half-made objects. Containers the store holds (their record was refused:
   * written by a newer gantry, or damaged) are left alone: processes, cgroups and files.
   */
  async recover(): Promise<void> {
    const active = new Set(this.o.store.all().filter((r) => isActive(r.state.status)).map((r) => r.id));
    await this.o.runtime.sweep(active, this.o.store.held());
    for (const rec of this.o.store.all()) {
      if (rec.state.status === 'removing') { await this.removeLocked(rec.id, { volumes: false }); continue; }
      if (!isActive(rec.state.status)) continue;
      if (rec.state.status === 'restarting') {
        // The daemon died during a backoff: start it now.
        this.update(rec.id, (r) => { r.state.status = 'running'; });
        void this.lock.run(rec.id, () => this.handleExit(rec.id, rec.state.generation, true));
        continue;
      }
      let proc: RunningProcess | undefined;
      try {
        proc = await this.o.runtime.reattach(rec);
      } catch (e) {
        // Running, but not ours to drive (e.g. a shim of a newer build): recorded, left alone, never killed.
        this.update(rec.id, (r) => { r.state.error = e instanceof Error ? e.message : String(e); });
        continue;
      }
      if (proc) {
        this.watch(rec.id, rec.state.generation, proc);
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
          await this.startLocked(rec.id, { byHand: true }).catch((e: unknown) => {
            this.update(rec.id, (r) => { r.state.error = e instanceof Error ? e.message : String(e); });
          });
        });
      }
    }
  }

  /** Stops watching without touching containers: they outlive the daemon. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const t of this.restartTimers.values()) t.cancel();
    this.restartTimers.clear();
    this.o.runtime.release(this.o.store.all().filter((r) => isActive(r.state.status)));
  }
}
