// The daemon's composition root: the Linux engine (stores, shim runtime, cgroups, bridge networking) built on
// the engine core, and the stack service that asks it for work. Everything above this file talks to the
// Engine interface (src/engine/engine.ts).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DaemonPaths } from '../common/paths.js';
import type { TrashReaper } from '../engine/containers/trash-reaper.js';
import { refusalLine, refusedRecords } from '../common/versioned-record.js';
import { sweepInterruptedWrites } from './interrupted-writes.js';
import { detectCgroupDriver, type CgroupDriver } from '../engine/cgroups/index.js';
import { systemClock } from '../engine/clock.js';
import { LinuxRuntime } from '../engine/containers/linux-runtime.js';
import { ContainerStore } from '../engine/containers/store.js';
import { EngineCore } from '../engine/core.js';
import { EventBus } from '../engine/events/bus.js';
import { ImageStore } from '../engine/images/index.js';
import { NetworkManager } from '../engine/network/manager.js';
import { RegistryService } from '../engine/registry/service.js';
import { VolumeStore } from '../engine/volumes/store.js';
import { StackService } from './stack-service.js';
import { DeployService } from '../deploy/service.js';
import { deployPort } from './deploy-port.js';

const log = (msg: string): void => { process.stderr.write(`${new Date().toISOString()} gantryd: ${msg}\n`); };

export class Daemon {
  readonly engine: EngineCore;
  readonly cgroups: CgroupDriver;
  readonly network: NetworkManager;
  readonly stacks: StackService;
  readonly registry: RegistryService;
  readonly deploy: DeployService;
  private readonly reaper: TrashReaper;

  private constructor(readonly paths: DaemonPaths) {
    mkdirSync(paths.root, { recursive: true, mode: 0o700 });
    rmSync(join(paths.root, 'tmp'), { recursive: true, force: true });
    mkdirSync(join(paths.root, 'tmp'), { recursive: true, mode: 0o700 });
    const swept = sweepInterruptedWrites(paths.root);
    if (swept.length > 0) log(`removed temp files of interrupted writes: ${swept.join(', ')}`);
    const store = new ContainerStore(paths.root);
    this.reaper = store.reaper;
    const loaded = store.load();
    // A directory without a record is a create that died half-way (nothing ran from it: removed), unless its
    // cgroup holds processes: then the record was lost, and the container is held, never removed.
    this.cgroups = detectCgroupDriver();
    for (const d of loaded.orphanDirs) {
      const id = d.split('/').pop() ?? '';
      if (this.cgroups.pids(`${paths.prefix}/${id}`).length > 0) store.holdUnrecorded(id);
      else rmSync(d, { recursive: true, force: true });
    }
    const volumes = new VolumeStore(paths.root);
    const images = new ImageStore({ root: paths.root });
    const events = new EventBus();
    const runtime = new LinuxRuntime({ containersDir: store.dir, runDir: paths.runDir, prefix: paths.prefix, cgroups: this.cgroups, volumes,
      lookup: (ref) => store.get(ref), log, background: store.reaper, shimSpawner: process.env['GANTRY_SHIM_SPAWNER'] !== '0' });
    let network: NetworkManager | undefined;
    this.engine = new EngineCore({ store, volumes, images, runtime, events, clock: systemClock,
      networks: ({ manager }) => {
        network = new NetworkManager({ root: paths.root, prefix: paths.prefix, events, log, bridgeBypass: process.env['GANTRY_BRIDGE_BYPASS'] !== '0',
          nativePortProxy: process.env['GANTRY_PORT_PROXY'] !== 'node', portDnat: process.env['GANTRY_PORT_DNAT'] !== '0',
          netnsPool: process.env['GANTRY_NETNS_POOL'] !== '0', teardown: store.reaper.gate,
          containers: { find: (r) => store.find(r), get: (r) => store.get(r), all: () => store.all(),
            setNetworks: (id, mode, nets) => manager.setNetworks(id, mode, nets), writeNetworkFiles: (id, f) => manager.writeNetworkFiles(id, f),
            held: () => store.held() } });
        return network;
      } });
    this.network = network!;
    this.registry = new RegistryService(images);
    this.stacks = new StackService(paths.root, this.engine, log, systemClock, this.registry);
    this.deploy = new DeployService(paths.root, deployPort(this.stacks, this.engine, paths.root, this.registry), { log });
  }

  static async open(paths: DaemonPaths): Promise<Daemon> {
    const d = new Daemon(paths);
    // Networks first: recovery detaches containers that died while the daemon was down.
    await d.network.open();
    await d.engine.open();
    d.stacks.start();
    d.deploy.start();
    for (const e of refusedRecords(paths.root)) log(refusalLine(e));
    return d;
  }

  /** Records refused at start or since (written by a newer gantry, or damaged and quarantined): one line each. */
  stateWarnings(): string[] {
    return refusedRecords(this.paths.root).map((e) => (e.hint === undefined ? e.message : `${e.message} (hint: ${e.hint})`));
  }

  /** Stops watching (containers keep running); drops the empty cgroup parent so no stray dir is left. */
  async close(): Promise<void> {
    this.deploy.stop();
    this.stacks.stop();
    this.engine.close();
    await this.network.close();
    // force-removed containers' cgroups go in the trash reaper's worker: the parent is empty once it is done
    await this.reaper.drained(5000);
    if (this.cgroups.list(this.paths.prefix).length === 0) {
      this.cgroups.removeSharedIfUnused?.(this.paths.prefix);
      await this.cgroups.remove(this.paths.prefix).catch(() => undefined);
    }
  }
}

