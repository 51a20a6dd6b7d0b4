// The engine seam: the one interface between everything that asks (API routes, the stack service, and later
// build, watch, deploy, kube) and everything that does. It takes typed specs (ContainerSpec,
// NetworkCreateRequest), never Docker bodies, and hands out read-only views. Two implementations are built
// from the same core (core.ts): the Linux engine (src/daemon/engine.ts: shim, cgroups, netlink) and the
// in-memory fake used by the no-root tests (test/fakes/fake-engine.ts).
import type { Duplex, Readable } from 'node:stream';
import type { ContainerInspectInfo, NetworkInspectInfo } from 'dockerode';
import type { ContainerSpec } from './containers/container-spec.js';
import type { ContainerNetworking } from './containers/deps.js';
import type { ExecConfig, ExecInspect } from './containers/exec.js';
import type { ContainerResourceUpdate, WaitCondition } from './containers/manager.js';
import type { ContainerView } from './containers/record.js';
import type { ContainerPaths, ContainerUsage, ProcessInfo } from './containers/runtime.js';
import type { EventBus } from './events/bus.js';
import type { LoadedImage } from './archive/load.js';
import type { PathStat } from './cp/path-stat.js';
import type { ImageHistoryEntry } from './images/history.js';
import type { OciDescriptor } from './images/oci.js';
import type { ImageRecord, ImageStore } from './images/store.js';
import type { LogEntry, LogReadOptions } from './logs/reader.js';
import type { PublishedPort } from './network/ports.js';
import type { ContainerChange } from './snapshot/changes.js';
import type { CommitOptions } from './snapshot/commit.js';
import type { ContainerSize, ContainersPruneReport, ImagesPruneReport, VolumesPruneReport } from './prune/prune.js';
import type { VolumeRecord, VolumeStore } from './volumes/store.js';

export interface NetworkCreateRequest {
  name: string;
  driver?: string | undefined;
  subnet?: string | undefined;
  gateway?: string | undefined;
  internal?: boolean | undefined;
  labels?: Record<string, string> | undefined;
  options?: Record<string, string> | undefined;
}

/** A network as callers see it (names, labels), whatever the implementation. */
export interface NetworkSummary {
  id: string;
  name: string;
  labels: Readonly<Record<string, string>>;
}

export interface EndpointRequest {
  aliases?: string[] | undefined;
  ipv4Address?: string | undefined;
}

/** Networking as the engine exposes it (NetworkManager on Linux; an in-memory one in the fake). */
export interface NetworkService extends ContainerNetworking {
  summaries(): NetworkSummary[];
  /** `network ls` / `network inspect` in the Docker API's shape (pseudo networks host/none included). */
  list(): NetworkInspectInfo[];
  inspect(ref: string): NetworkInspectInfo;
  /** Removes unused networks matching Docker's prune filters; returns their names. */
  prune(filters: Record<string, string[]>): Promise<string[]>;
  create(req: NetworkCreateRequest): NetworkSummary;
  remove(ref: string): Promise<void>;
  connect(netRef: string, containerRef: string, req?: EndpointRequest): Promise<void>;
  disconnect(netRef: string, containerRef: string): Promise<void>;
  publishedPorts(containerId: string): PublishedPort[];
  /**
   * Start-first replacement, step 1: the starts of `toId` leave to `fromId` the published host ports it holds (they
   * are busy); `toId` gets them at the hand-over.
   */
  expectHandover(toId: string, fromId: string): void;
  /**
   * Step 2: `fromId`'s published ports that `toId` publishes too are moved to `toId` — the listeners stay open, new
   * connections go to `toId`'s address, so none is refused — and `fromId`'s names leave the networks' DNS (it keeps
   * running, reachable by address, until it is stopped). Resolves when the connections still going to `fromId`
   * ended, or after `drainMs`.
   */
  handOver(fromId: string, toId: string, drainMs: number): Promise<void>;
  /** A container's network settings in the Docker API's shape (inspect). */
  networkSettings(rec: ContainerView): ContainerInspectInfo['NetworkSettings'];
}

/** A layer made from a container's changes: its blob descriptor and ids. */
export interface ContainerLayer { descriptor: OciDescriptor; diffId: string; chainId: string }

export interface StopOptions { timeoutSeconds?: number | undefined; signal?: string | undefined }
export interface RemoveOptions { force: boolean; volumes: boolean }

/** Volumes as callers read them; changes go through Engine.createVolume/removeVolume (which emit events). */
export type VolumeView = Pick<VolumeStore, 'find' | 'get' | 'list' | 'inspect' | 'dataDir'>;

export interface VolumeCreateOptions { labels?: Record<string, string>; options?: Record<string, string>; anonymous?: boolean }

export interface Engine {
  readonly events: EventBus;
  readonly images: ImageStore;
  readonly volumes: VolumeView;
  readonly networks: NetworkService;

  createContainer(spec: ContainerSpec): Promise<ContainerView>;
  startContainer(ref: string): Promise<ContainerView>;
  stopContainer(ref: string, opts?: StopOptions): Promise<ContainerView>;
  restartContainer(ref: string, timeoutSeconds?: number): Promise<ContainerView>;
  killContainer(ref: string, signal?: string): Promise<void>;
  pauseContainer(ref: string): Promise<void>;
  unpauseContainer(ref: string): Promise<void>;
  removeContainer(ref: string, opts: RemoveOptions): Promise<void>;
  /** A new name for a container (a running one too: its DNS names follow). */
  renameContainer(ref: string, name: string): Promise<ContainerView>;
  /** Start-first replacement: `to`'s starts leave `from`'s published ports to it until handOverContainer. */
  expectHandover(toRef: string, fromRef: string): void;
  /** Moves published ports and DNS names from `from` to `to` (both running); see NetworkService.handOver. */
  handOverContainer(fromRef: string, toRef: string, drainMs: number): Promise<void>;
  /** New resource limits and restart policy (applied at once to a running container). */
  updateContainer(ref: string, change: ContainerResourceUpdate): Promise<ContainerView>;
  /** Resolves with the exit code once `condition` holds. */
  waitContainer(ref: string, condition?: WaitCondition): Promise<number>;

  containers(): readonly ContainerView[];
  findContainer(ref: string): ContainerView | undefined;
  /** Throws CONTAINER_NOT_FOUND. */
  getContainer(ref: string): ContainerView;
  containerPaths(id: string): ContainerPaths;
  /** Containers on disk whose record this build refused (damaged, or written by a newer gantry): left alone. */
  heldContainers(): Array<{ id: string; reason: string }>;
  /** Idempotent like docker's: an existing volume of that name is returned. */
  createVolume(name: string, opts?: VolumeCreateOptions): VolumeRecord;
  /** Refuses a volume a container still mounts, naming the containers. */
  removeVolume(name: string): void;
  /** Names of containers that mount volume `name`. */
  volumeUsers(name: string): string[];
  imageInUse(imageId: string): boolean;

  /** `docker history`: the image's history items, newest first, with the size of the layer each made. */
  imageHistory(ref: string): ImageHistoryEntry[];
  /** `docker diff`: what the container changed over its image (A/C/D), from its upper dir. */
  containerChanges(ref: string): Promise<ContainerChange[]>;
  /** `docker commit`: the container's changes as a new image (frozen meanwhile unless `pause: false`). */
  commitContainer(ref: string, opts: CommitOptions): Promise<ImageRecord>;
  /**
   * The builder's RUN step: a stopped container's changes as a layer on its image's (undefined: it changed nothing);
   * the empty stubs made for `mountTargets` (its RUN --mount targets) and their made parents are left out.
   */
  containerLayer(ref: string, mountTargets?: readonly string[]): Promise<ContainerLayer | undefined>;
  /** `docker export`: a tar stream of the container's merged root filesystem. */
  exportContainer(ref: string): Readable;
  /** `docker save`: the images `refs` name, as one docker-archive that is also an OCI layout. */
  saveImages(refs: readonly string[]): Readable;
  /** `docker load`: every image of a docker-archive or OCI layout tar stream (untrusted). */
  loadImages(archive: Readable): Promise<LoadedImage[]>;
  /** Docker's prunes (filters as the API's `filters`): stopped containers, unused images, unused volumes. */
  pruneContainers(filters: Record<string, string[]>): Promise<ContainersPruneReport>;
  pruneImages(filters: Record<string, string[]>): Promise<ImagesPruneReport>;
  pruneVolumes(filters: Record<string, string[]>): Promise<VolumesPruneReport>;
  /** `ps -s` / `inspect -s`: the container's own bytes (its upper dir) and those plus its image's. */
  containerSize(ref: string): Promise<ContainerSize>;
  /** `docker system df` (Docker's `GET /system/df` shape). */
  systemDf(): Promise<Record<string, unknown>>;
  /** `docker cp` (HEAD): what `path` is in the container (resolved inside its root). */
  containerPathStat(ref: string, path: string): Promise<PathStat>;
  /** `docker cp CONTAINER:PATH …`: a tar of `path` as the container sees it. */
  readContainerPath(ref: string, path: string): Promise<{ stat: PathStat; stream: Readable }>;
  /** `docker cp … CONTAINER:DIR`: extracts a tar into the directory `path` (the container's upper dir; running or not). */
  writeContainerPath(ref: string, path: string, archive: Readable, opts: { copyUidGid: boolean; noOverwriteDirNonDir: boolean; asContainerUser?: boolean }): Promise<void>;
  /** Watch's deletions: removes `paths` from the container (whiteouts over image files), resolved inside its root. */
  removeContainerPaths(ref: string, paths: readonly string[]): Promise<void>;

  logs(ref: string, opts: LogReadOptions, signal: AbortSignal): AsyncIterable<LogEntry>;
  attach(ref: string, client: Duplex, opts: { stdin: boolean; stdout: boolean; stderr: boolean }): Promise<void>;
  resize(ref: string, rows: number, cols: number): Promise<void>;
  processes(ref: string): ProcessInfo[];
  usage(ref: string): ContainerUsage;

  createExec(containerRef: string, config: ExecConfig): string;
  startExec(id: string, client: Duplex | undefined): Promise<{ finished: Promise<number> }>;
  resizeExec(id: string, rows: number, cols: number): Promise<void>;
  inspectExec(id: string): ExecInspect;
}

export type { ContainerSpec, ContainerView };
