// The engine built from its parts: the container manager (the one writer of container records), execs,
// health, over a ContainerRuntime and a NetworkService. The Linux daemon and the test fake differ only in the
// parts they pass in (runtime, networking, clock); every lifecycle rule runs here for both.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { GantryError } from '../common/errors.js';
import type { Clock } from './clock.js';
import type { ContainerSpec } from './containers/container-spec.js';
import type { ImageSource, ImageView } from './containers/deps.js';
import { ExecManager, type ExecConfig, type ExecInspect } from './containers/exec.js';
import { HealthMonitor } from './containers/health.js';
import { ContainerManager, type ContainerResourceUpdate, type WaitCondition } from './containers/manager.js';
import type { ContainerView } from './containers/record.js';
import type { ContainerPaths, ContainerRuntime, ContainerUsage, ProcessInfo } from './containers/runtime.js';
import type { ContainerStore } from './containers/store.js';
import type { ContainerLayer, Engine, NetworkService, RemoveOptions, StopOptions, VolumeCreateOptions, VolumeView } from './engine.js';
import type { EventBus } from './events/bus.js';
import { loadArchive, type LoadedImage } from './archive/load.js';
import { saveArchive } from './archive/save.js';
import { readContainerFile, USER_DB_MAX_BYTES } from './containers/rootfs-files.js';
import { resolveUserAsync } from './runtime/user.js';
import { readContainerPath, removeContainerPaths, statContainerPath, writeContainerPath, type ContainerRoot } from './cp/container-files.js';
import type { PathStat } from './cp/path-stat.js';
import { containerSize, pruneContainers, pruneImages, pruneVolumes, systemDf, type ContainerSize, type ContainersPruneReport, type ImagesPruneReport, type PruneDeps, type VolumesPruneReport } from './prune/prune.js';
import { imageHistory, type ImageHistoryEntry } from './images/history.js';
import { formatReference, parseReference } from './images/reference.js';
import type { ImageRecord, ImageStore } from './images/store.js';
import { layerLimitsFromEnv } from './images/limits.js';
import { upperChanges, type ContainerChange } from './snapshot/changes.js';
import { changesAsLayer, commitContainer, type CommitOptions } from './snapshot/commit.js';
import { mergedTar } from './snapshot/upper-tar.js';
import type { LogEntry, LogReadOptions } from './logs/reader.js';
import type { VolumeRecord, VolumeStore } from './volumes/store.js';

export interface EngineParts {
  store: ContainerStore;
  volumes: VolumeStore;
  images: ImageStore;
  runtime: ContainerRuntime;
  /** Built once the core exists: networking reports container changes to the core's manager. */
  networks: (core: { manager: ContainerManager; store: ContainerStore }) => NetworkService;
  events: EventBus;
  clock: Clock;
}

export function imageSourceOf(images: ImageStore): ImageSource {
  const view = (ref: string): ImageView => {
    const rec = images.get(ref);
    return { id: rec.id, config: images.config(rec), layerDirs: images.layerDirs(rec) };
  };
  return { lookup: view, byId: (id) => (images.resolve(id) ? view(id) : undefined) };
}

export class EngineCore implements Engine {
  readonly events: EventBus;
  readonly images: ImageStore;
  readonly volumes: VolumeView;
  readonly networks: NetworkService;
  private readonly volumeStore: VolumeStore;
  readonly manager: ContainerManager;
  private readonly execs: ExecManager;
  private readonly health: HealthMonitor;
  private readonly store: ContainerStore;
  private readonly runtime: ContainerRuntime;

  constructor(p: EngineParts) {
    this.events = p.events;
    this.images = p.images;
    this.volumes = p.volumes;
    this.volumeStore = p.volumes;
    this.store = p.store;
    this.runtime = p.runtime;
    const images = imageSourceOf(p.images);
    // The manager needs networking and networking reports to the manager: it is wired in just after.
    let networks: NetworkService | undefined;
    const networking = {
      attach: (id: string, pid: number) => networks!.attach(id, pid),
      detach: (id: string, opts?: { removal?: boolean }) => networks!.detach(id, opts),
      netnsFor: (id: string) => networks!.netnsFor?.(id),
      netnsDone: (id: string) => networks!.netnsDone?.(id),
      validate: (h: Parameters<NonNullable<NetworkService['validate']>>[0]) => networks!.validate?.(h),
      renamed: (id: string, oldName: string, newName: string) => networks!.renamed?.(id, oldName, newName),
    };
    this.manager = new ContainerManager({ store: p.store, images, volumes: p.volumes, runtime: p.runtime, events: p.events, clock: p.clock, networking, teardown: p.store.reaper.gate });
    networks = p.networks({ manager: this.manager, store: p.store });
    this.networks = networks;
    this.execs = new ExecManager({ store: p.store, images, runtime: p.runtime, events: p.events });
    this.health = new HealthMonitor({ store: p.store, execs: this.execs, containers: this.manager, events: p.events, clock: p.clock });
  }

  /** After the daemon (re)starts: re-adopt running containers, then supervise health. */
  async open(): Promise<void> {
    await this.manager.recover();
    this.health.start();
  }

  /** Stops supervising; containers keep running. */
  close(): void {
    this.health.stop();
    this.manager.shutdown();
  }

  createContainer(spec: ContainerSpec): Promise<ContainerView> { return this.manager.create(spec); }
  startContainer(ref: string): Promise<ContainerView> { return this.manager.start(ref); }
  stopContainer(ref: string, opts: StopOptions = {}): Promise<ContainerView> { return this.manager.stop(ref, opts.timeoutSeconds, opts.signal); }
  restartContainer(ref: string, timeoutSeconds?: number): Promise<ContainerView> { return this.manager.restart(ref, timeoutSeconds); }
  killContainer(ref: string, signal?: string): Promise<void> { return this.manager.kill(ref, signal); }
  pauseContainer(ref: string): Promise<void> { return this.manager.pause(ref); }
  unpauseContainer(ref: string): Promise<void> { return this.manager.unpause(ref); }
  removeContainer(ref: string, opts: RemoveOptions): Promise<void> { return this.manager.remove(ref, opts); }
  renameContainer(ref: string, name: string): Promise<ContainerView> { return this.manager.rename(ref, name); }
  expectHandover(toRef: string, fromRef: string): void { this.networks.expectHandover(this.store.get(toRef).id, this.store.get(fromRef).id); }
  handOverContainer(fromRef: string, toRef: string, drainMs: number): Promise<void> {
    return this.networks.handOver(this.store.get(fromRef).id, this.store.get(toRef).id, drainMs);
  }
  updateContainer(ref: string, change: ContainerResourceUpdate): Promise<ContainerView> { return this.manager.updateResources(ref, change); }
  waitContainer(ref: string, condition?: WaitCondition): Promise<number> { return this.manager.wait(ref, condition); }

  containers(): readonly ContainerView[] { return this.store.all(); }
  findContainer(ref: string): ContainerView | undefined { return this.store.find(ref); }
  getContainer(ref: string): ContainerView { return this.store.get(ref); }
  containerPaths(id: string): ContainerPaths { return this.runtime.paths(id); }
  heldContainers(): Array<{ id: string; reason: string }> {
    return this.store.heldContainers().map((h) => ({ id: h.id, reason: h.reason.message }));
  }
  volumeUsers(name: string): string[] { return this.manager.volumeUsers(name); }

  createVolume(name: string, opts: VolumeCreateOptions = {}): VolumeRecord {
    const existed = this.volumeStore.find(name);
    const rec = this.volumeStore.create(name, opts);
    if (existed === undefined) this.events.emit('volume', 'create', name);
    return rec;
  }

  removeVolume(name: string): void {
    this.volumeStore.remove(name, this.manager.volumeUsers(name));
    this.events.emit('volume', 'destroy', name);
  }
  imageInUse(imageId: string): boolean { return this.manager.imageInUse(imageId); }

  imageHistory(ref: string): ImageHistoryEntry[] { return imageHistory(this.images.get(ref)); }

  /** The container's upper dir (its writable layer) and the image's layer dirs, topmost first. */
  private containerLayers(rec: ContainerView): { upper: string; lowers: string[] } {
    return { upper: join(this.runtime.paths(rec.id).dir, 'upper'), lowers: this.images.layerDirs(rec.config.imageId) };
  }

  containerChanges(ref: string): Promise<ContainerChange[]> {
    const rec = this.store.get(ref);
    const { upper, lowers } = this.containerLayers(rec);
    return upperChanges(upper, lowers, layerLimitsFromEnv().maxEntries);
  }

  commitContainer(ref: string, opts: CommitOptions): Promise<ImageRecord> {
    const rec = this.store.get(ref);
    return commitContainer(rec, opts, {
      images: this.images, upperDir: this.containerLayers(rec).upper,
      freeze: () => this.manager.pause(rec.id), thaw: () => this.manager.unpause(rec.id),
    });
  }

  containerLayer(ref: string, mountTargets: readonly string[] = []): Promise<ContainerLayer | undefined> {
    const rec = this.store.get(ref);
    if (rec.state.status === 'running' || rec.state.status === 'paused') {
      throw new GantryError('CONTAINER_RUNNING', `container ${rec.name} is running`, { hint: 'wait for it to exit first' });
    }
    return changesAsLayer(rec, { images: this.images, upperDir: this.containerLayers(rec).upper }, mountTargets);
  }

  exportContainer(ref: string): Readable {
    const rec = this.store.get(ref);
    const { upper, lowers } = this.containerLayers(rec);
    // Names as Docker's export has them (`bin/sh`, not `./bin/sh`); link targets untouched.
    return mergedTar({ layers: [upper, ...lowers], tmpDir: this.tmpDir(), dir: '.', member: '.', extra: ['--transform=s,^\./,,S'], what: `the root filesystem of ${rec.name}` });
  }

  saveImages(refs: readonly string[]): Readable {
    // Docker's rule: a name saves that tag; an id saves the image with all its tags.
    const chosen = new Map<string, { image: ImageRecord; tags: string[] }>();
    for (const ref of refs) {
      const image = this.images.get(ref);
      const entry = chosen.get(image.id) ?? { image, tags: [] };
      const named = image.repoTags.filter((t) => sameTag(t, ref));
      const byId = named.length === 0 && /^(sha256:)?[a-f0-9]{4,64}$/.test(ref);
      for (const t of byId ? image.repoTags : named) if (!entry.tags.includes(t)) entry.tags.push(t);
      chosen.set(image.id, entry);
    }
    return saveArchive(this.images, [...chosen.values()]);
  }

  loadImages(archive: Readable): Promise<LoadedImage[]> { return loadArchive(this.images, archive, this.tmpDir()); }

  private containerRoot(ref: string): ContainerRoot {
    const rec = this.store.get(ref);
    const { upper, lowers } = this.containerLayers(rec);
    return {
      name: rec.name, layers: [upper, ...lowers], running: rec.state.status === 'running', pid: rec.state.status === 'running' ? rec.state.pid : 0, tmpDir: this.tmpDir(),
      mounts: rec.host.mounts.map((m) => ({
        target: m.target, readOnly: m.readOnly,
        source: m.type === 'volume' ? this.volumes.dataDir(m.source) : m.type === 'bind' ? m.source : undefined,
      })),
      freeze: () => this.runtime.freeze(rec), thaw: () => this.runtime.thaw(rec),
    };
  }

  containerPathStat(ref: string, path: string): Promise<PathStat> { return statContainerPath(this.containerRoot(ref), path); }
  readContainerPath(ref: string, path: string): Promise<{ stat: PathStat; stream: Readable }> { return readContainerPath(this.containerRoot(ref), path); }
  async writeContainerPath(ref: string, path: string, archive: Readable, opts: { copyUidGid: boolean; noOverwriteDirNonDir: boolean; asContainerUser?: boolean }): Promise<void> {
    const root = this.containerRoot(ref);
    const owner = opts.asContainerUser === true ? await this.containerUserIds(ref, root) : undefined;
    return writeContainerPath(root, path, archive, { copyUidGid: opts.copyUidGid, noOverwriteDirNonDir: opts.noOverwriteDirNonDir, limits: this.images.layers.limits, owner }, () => this.containerRoot(ref));
  }

  removeContainerPaths(ref: string, paths: readonly string[]): Promise<void> { return removeContainerPaths(this.containerRoot(ref), paths, () => this.containerRoot(ref)); }

  /** uid:gid of the container's configured user, from its own /etc/passwd and /etc/group (read inside its root). */
  private async containerUserIds(ref: string, root: ContainerRoot): Promise<{ uid: number; gid: number }> {
    const rec = this.store.get(ref);
    const user = await resolveUserAsync(rec.config.user, (p) => readContainerFile({ name: root.name, layers: root.layers }, p, USER_DB_MAX_BYTES));
    return { uid: user.uid, gid: user.gid };
  }

  private pruneDeps(): PruneDeps {
    return {
      containers: () => this.store.all(), containerDir: (id) => this.runtime.paths(id).dir,
      removeContainer: (id) => this.manager.remove(id, { force: false, volumes: false }),
      images: this.images, volumes: this.volumes, volumeUsers: (n) => this.manager.volumeUsers(n), removeVolume: (n) => this.removeVolume(n),
    };
  }

  pruneContainers(filters: Record<string, string[]>): Promise<ContainersPruneReport> { return pruneContainers(this.pruneDeps(), filters); }
  pruneImages(filters: Record<string, string[]>): Promise<ImagesPruneReport> { return pruneImages(this.pruneDeps(), filters); }
  pruneVolumes(filters: Record<string, string[]>): Promise<VolumesPruneReport> { return pruneVolumes(this.pruneDeps(), filters); }
  systemDf(): Promise<Record<string, unknown>> { return systemDf(this.pruneDeps()); }
  containerSize(ref: string): Promise<ContainerSize> { return containerSize(this.pruneDeps(), this.store.get(ref)); }

  /** The daemon's scratch dir (under its root; emptied at each start). */
  private tmpDir(): string {
    const dir = join(this.images.root, 'tmp');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  logs(ref: string, opts: LogReadOptions, signal: AbortSignal): AsyncIterable<LogEntry> { return this.manager.logs(ref, opts, signal); }
  attach(ref: string, client: Duplex, opts: { stdin: boolean; stdout: boolean; stderr: boolean }): Promise<void> { return this.manager.attach(ref, client, opts); }
  resize(ref: string, rows: number, cols: number): Promise<void> { return this.manager.resize(ref, rows, cols); }

  processes(ref: string): ProcessInfo[] {
    const rec = this.store.get(ref);
    if (rec.state.status !== 'running' && rec.state.status !== 'paused') {
      throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`, { hint: `start it first: gantry start ${rec.name}` });
    }
    return this.runtime.processes(rec);
  }

  usage(ref: string): ContainerUsage {
    const rec = this.store.get(ref);
    const running = rec.state.status === 'running' || rec.state.status === 'paused';
    return running ? this.runtime.usage(rec) : { memoryUsageBytes: 0, memoryLimitBytes: 0, cpuUsageNanos: 0, pids: 0, systemCpuNanos: 0, onlineCpus: 1 };
  }

  createExec(containerRef: string, config: ExecConfig): string { return this.execs.create(containerRef, config); }
  startExec(id: string, client: Duplex | undefined): Promise<{ finished: Promise<number> }> { return this.execs.start(id, client); }
  resizeExec(id: string, rows: number, cols: number): Promise<void> { return this.execs.resize(id, rows, cols); }
  inspectExec(id: string): ExecInspect { return this.execs.inspect(id); }
}

/** Whether the familiar tag `tag` is what the user's `ref` names (`busybox` names `busybox:latest`). */
function sameTag(tag: string, ref: string): boolean {
  try { return formatReference(parseReference(tag)) === formatReference(parseReference(ref)); } catch { return false; }
}
