// The in-memory engine for tests without root: the real engine core (records, lifecycle, restart policies,
// health, recovery) over a fake runtime, fake networking and a fake clock. Stores live in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkInspectInfo } from 'dockerode';
import { GantryError } from '../../src/common/errors.js';
import { newId } from '../../src/common/ids.js';
import type { ContainerView, HostSettings } from '../../src/engine/containers/record.js';
import { ContainerStore } from '../../src/engine/containers/store.js';
import { EngineCore } from '../../src/engine/core.js';
import type { EndpointRequest, NetworkCreateRequest, NetworkService, NetworkSummary } from '../../src/engine/engine.js';
import { EventBus } from '../../src/engine/events/bus.js';
import { ImageStore } from '../../src/engine/images/index.js';
import type { PublishedPort } from '../../src/engine/network/ports.js';
import { VolumeStore } from '../../src/engine/volumes/store.js';
import { FakeClock } from './fake-clock.js';
import { FakeRuntime } from './fake-runtime.js';

interface FakeNet { id: string; name: string; labels: Record<string, string>; subnet: number; next: number }

/** Bridge networks without a kernel: names, labels and one address per attached container. */
export class FakeNetworks implements NetworkService {
  private readonly nets = new Map<string, FakeNet>();
  private readonly attached = new Map<string, Record<string, string>>();
  private subnets = 0;

  constructor(private readonly lookup: (id: string) => ContainerView | undefined, private readonly events: EventBus) {}

  private find(ref: string): FakeNet | undefined {
    return [...this.nets.values()].find((n) => n.name === ref || n.id === ref);
  }

  summaries(): NetworkSummary[] { return [...this.nets.values()].map((n) => ({ id: n.id, name: n.name, labels: n.labels })); }

  create(req: NetworkCreateRequest): NetworkSummary {
    if (this.find(req.name) !== undefined) throw new GantryError('NAME_IN_USE', `network with name ${req.name} already exists`);
    const n: FakeNet = { id: newId(), name: req.name, labels: { ...req.labels ?? {} }, subnet: ++this.subnets, next: 2 };
    this.nets.set(n.id, n);
    this.events.emit('network', 'create', n.id, { name: n.name, type: 'bridge' });
    return { id: n.id, name: n.name, labels: n.labels };
  }

  async remove(ref: string): Promise<void> {
    const n = this.find(ref);
    if (n === undefined) throw new GantryError('NETWORK_NOT_FOUND', `network ${ref} not found`);
    const users = [...this.attached].filter(([, a]) => a[n.name] !== undefined);
    if (users.length > 0) throw new GantryError('NETWORK_IN_USE', `network ${n.name} is in use`);
    this.nets.delete(n.id);
    this.events.emit('network', 'destroy', n.id, { name: n.name, type: 'bridge' });
  }

  private wanted(h: HostSettings | ContainerView['host']): string[] {
    if (['host', 'none', 'bridge'].includes(h.networkMode) || h.networkMode.startsWith('container:')) return h.networks.map((x) => x.network);
    return [...new Set([h.networkMode, ...h.networks.map((x) => x.network)])];
  }

  validate(h: HostSettings): void {
    for (const name of this.wanted(h)) if (this.find(name) === undefined) throw new GantryError('NETWORK_NOT_FOUND', `network ${name} not found`);
  }

  async attach(containerId: string): Promise<void> {
    const rec = this.lookup(containerId);
    if (rec === undefined) return;
    const out: Record<string, string> = {};
    for (const name of this.wanted(rec.host)) {
      const n = this.find(name);
      if (n !== undefined) out[n.name] = `10.${n.subnet}.0.${n.next++}`;
    }
    this.attached.set(containerId, out);
  }

  async detach(containerId: string, _opts?: { removal?: boolean }): Promise<Record<string, string>> {
    const had = this.attached.get(containerId) ?? {};
    this.attached.delete(containerId);
    const byId: Record<string, string> = {};
    for (const [name, ip] of Object.entries(had)) { const n = this.find(name); if (n !== undefined) byId[n.id] = ip; }
    return byId;
  }
  async connect(_net: string, _container: string, _req?: EndpointRequest): Promise<void> { throw new GantryError('UNSUPPORTED', 'the fake engine has no network connect'); }
  async disconnect(): Promise<void> { throw new GantryError('UNSUPPORTED', 'the fake engine has no network disconnect'); }
  publishedPorts(): PublishedPort[] { return []; }
  /** Start-first hand-overs asked for, as `from→to` (the fake has no ports or DNS to move). */
  readonly handovers: string[] = [];
  expectHandover(): void { /* nothing is published */ }
  async handOver(fromId: string, toId: string): Promise<void> { this.handovers.push(`${fromId}→${toId}`); }
  networkSettings(): ReturnType<NetworkService['networkSettings']> { return { SandboxID: '', Ports: {}, SandboxKey: '', Networks: {} } as unknown as ReturnType<NetworkService['networkSettings']>; }
  list(): NetworkInspectInfo[] { return []; }
  inspect(ref: string): NetworkInspectInfo { throw new GantryError('NETWORK_NOT_FOUND', `network ${ref} not found`); }
  async prune(): Promise<string[]> { return []; }
}

export interface FakeEngineWorld {
  dir: string;
  clock: FakeClock;
  runtime: FakeRuntime;
  events: EventBus;
}

/** A fake "host": state dir, clock and running processes, which outlive the engines opened on it. */
export function fakeWorld(): FakeEngineWorld {
  const clock = new FakeClock();
  return { dir: mkdtempSync(join(tmpdir(), 'gantry-fake-')), clock, runtime: new FakeRuntime(clock), events: new EventBus() };
}

/** Opens an engine on the world, as a daemon start does (records loaded, running containers re-adopted). */
export async function openFakeEngine(w: FakeEngineWorld): Promise<EngineCore> {
  const store = new ContainerStore(w.dir);
  store.load();
  const core = new EngineCore({ store, volumes: new VolumeStore(w.dir), images: new ImageStore({ root: w.dir }), runtime: w.runtime,
    events: w.events, clock: w.clock, networks: () => new FakeNetworks((id) => store.find(id), w.events) });
  await core.open();
  return core;
}

/** An image with no layers and the given config, named `ref` (busybox-like by default). */
export async function addFakeImage(engine: EngineCore, ref = 'busybox', config: Record<string, unknown> = { Cmd: ['sh'], Env: ['PATH=/bin'] }): Promise<string> {
  const rec = await engine.images.addImage({ config: { architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } } as never, layers: [], refs: [ref] });
  return rec.id;
}

export function disposeWorld(w: FakeEngineWorld): void {
  rmSync(w.dir, { recursive: true, force: true });
}
