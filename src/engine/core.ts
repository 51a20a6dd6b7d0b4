// The engine built from its parts: the container manager (the one writer of container records), execs,
// health, over a ContainerRuntime and a NetworkService. The Linux daemon and the test fake differ only in the
// parts they pass in (runtime, networking, clock); every lifecycle rule runs here for both.
import type { Duplex } from 'node:stream';
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
import type { Engine, NetworkService, RemoveOptions, StopOptions, VolumeCreateOptions, VolumeView } from './engine.js';
import type { EventBus } from './events/bus.js';
import type { ImageStore } from './images/store.js';
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
      detach: (id: string) => networks!.detach(id),
      validate: (h: Parameters<NonNullable<NetworkService['validate']>>[0]) => networks!.validate?.(h),
      renamed: (id: string, oldName: string, newName: string) => networks!.renamed?.(id, oldName, newName),
    };
    this.manager = new ContainerManager({ store: p.store, images, volumes: p.volumes, runtime: p.runtime, events: p.events, clock: p.clock, networking });
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
