// The daemon's composition root: stores, runtime, cgroups, networking and the managers built on them.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import type { DaemonPaths } from '../common/paths.js';
import { refusalLine, refusedRecords } from '../common/versioned-record.js';
import { detectCgroupDriver, type CgroupDriver } from '../engine/cgroups/index.js';
import type { ImageSource, ImageView } from '../engine/containers/deps.js';
import { ExecManager } from '../engine/containers/exec.js';
import { ContainerManager } from '../engine/containers/manager.js';
import type { ContainerRecord } from '../engine/containers/record.js';
import { ContainerStore } from '../engine/containers/store.js';
import { EventBus } from '../engine/events/bus.js';
import { ImageStore } from '../engine/images/index.js';
import { NetworkManager } from '../engine/network/manager.js';
import { VolumeStore } from '../engine/volumes/store.js';
import { HealthMonitor } from '../engine/containers/health.js';
import { engineOps } from './stack-ops.js';
import { StackService } from './stack-service.js';

export class Engine {
  readonly events = new EventBus();
  readonly store: ContainerStore;
  readonly volumes: VolumeStore;
  readonly images: ImageStore;
  readonly cgroups: CgroupDriver;
  readonly containers: ContainerManager;
  readonly execs: ExecManager;
  readonly network: NetworkManager;
  readonly health: HealthMonitor;
  readonly stacks: StackService;

  private constructor(readonly paths: DaemonPaths, private readonly orphanDirs: string[]) {
    mkdirSync(paths.root, { recursive: true, mode: 0o700 });
    rmSync(join(paths.root, 'tmp'), { recursive: true, force: true });
    mkdirSync(join(paths.root, 'tmp'), { recursive: true, mode: 0o700 });
    this.store = new ContainerStore(paths.root);
    const loaded = this.store.load();
    this.orphanDirs.push(...loaded.orphanDirs);
    this.volumes = new VolumeStore(paths.root);
    this.images = new ImageStore({ root: paths.root });
    this.cgroups = detectCgroupDriver();
    const imageSource = this.imageSource();
    this.network = new NetworkManager({ root: paths.root, prefix: paths.prefix, containers: this.store, events: this.events,
      log: (msg) => process.stderr.write(`${new Date().toISOString()} gantryd: ${msg}\n`) });
    this.containers = new ContainerManager({ store: this.store, images: imageSource, volumes: this.volumes, cgroups: this.cgroups,
      events: this.events, runDir: paths.runDir, prefix: paths.prefix, networking: this.network });
    this.execs = new ExecManager({ store: this.store, containers: this.containers, images: imageSource, cgroups: this.cgroups, runDir: paths.runDir });
    this.health = new HealthMonitor({ store: this.store, execs: this.execs, containers: this.containers, events: this.events });
    this.stacks = new StackService(paths.root, engineOps(this), this.events, (msg) => process.stderr.write(`${new Date().toISOString()} gantryd: ${msg}\n`));
  }

  static async open(paths: DaemonPaths): Promise<Engine> {
    const engine = new Engine(paths, []);
    // Networks first: recovery detaches containers that died while the daemon was down.
    await engine.network.open();
    await engine.containers.recover(engine.orphanDirs);
    // Then the supervisors: health checks of running containers, and stacks converged again.
    engine.health.start();
    engine.stacks.start();
    for (const e of refusedRecords(paths.root)) process.stderr.write(`${new Date().toISOString()} gantryd: ${refusalLine(e)}\n`);
    return engine;
  }

  /** Records refused at start or since (written by a newer gantry, or damaged and quarantined): one line each. */
  stateWarnings(): string[] {
    return refusedRecords(this.paths.root).map((e) => (e.hint === undefined ? e.message : `${e.message} (hint: ${e.hint})`));
  }

  private imageSource(): ImageSource {
    const view = (ref: string): ImageView => {
      const rec = this.images.get(ref);
      return { id: rec.id, config: this.images.config(rec), layerDirs: this.images.layerDirs(rec) };
    };
    return {
      lookup: view,
      byId: (id) => (this.images.resolve(id) ? view(id) : undefined),
    };
  }

  /** Adds what other subsystems know (networks, ports) to a container's inspect output. */
  decorateInspect(info: ContainerInspectInfo, rec: ContainerRecord): ContainerInspectInfo {
    const out = { ...info, NetworkSettings: this.network.networkSettings(rec) };
    // In container:X mode the files in use are X's (followed through chains), as docker reports them.
    let peer = rec;
    for (let hops = 0; peer.host.networkMode.startsWith('container:') && hops < 16; hops++) {
      const next = this.store.find(peer.host.networkMode.slice('container:'.length));
      if (next === undefined) break;
      peer = next;
    }
    if (peer !== rec) {
      const dir = this.containers.dir(peer.id);
      Object.assign(out, { HostsPath: join(dir, 'hosts'), ResolvConfPath: join(dir, 'resolv.conf'), HostnamePath: join(dir, 'hostname') });
    }
    return out;
  }

  /** The same for `GET /containers/json` entries (ps): ports as bound (random ones resolved), networks. */
  decorateList(entry: ContainerInfo, rec: ContainerRecord): ContainerInfo {
    const Ports = this.network.publishedPorts(rec.id).map((p) => ({
      IP: p.hostIp === '' ? '0.0.0.0' : p.hostIp, PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol,
    }));
    return { ...entry, Ports, NetworkSettings: { Networks: this.network.networkSettings(rec).Networks } };
  }

  /** Stops watching (containers keep running); drops the empty cgroup parent so no stray dir is left. */
  async close(): Promise<void> {
    this.stacks.stop();
    this.health.stop();
    this.containers.shutdown();
    await this.network.close();
    if (this.cgroups.list(this.paths.prefix).length === 0) await this.cgroups.remove(this.paths.prefix).catch(() => undefined);
  }
}
