// Persistent records of networks (<root>/networks/<id>.json), of the live endpoints of each running
// container (<root>/networks/endpoints/<containerId>.json) and of the addresses each container had last
// (<root>/networks/addresses/<containerId>.json). Every write is atomic (temp file, fsync, rename),
// so a daemon killed at any instant finds either the old record or the new one.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../../common/atomic-file.js';
import type { PublishedPort } from './ports.js';

export interface NetworkRecord {
  id: string;
  name: string;
  driver: 'bridge';
  created: string;
  /** CIDR, e.g. 172.18.0.0/16. */
  subnet: string;
  gateway: string;
  internal: boolean;
  /** Kernel bridge interface name. */
  bridge: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Docker's default network "bridge": joined when no --network is given; no DNS by name. */
  isDefault: boolean;
}

/** One container's interface on one network, while the container runs. */
export interface EndpointRecord {
  networkId: string;
  endpointId: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  /** --network-alias names (and service names given as aliases). */
  aliases: string[];
  /** Every name registered in the network's DNS for this endpoint. */
  dnsNames: string[];
  hostIfName: string;
  /** eth0, eth1… inside the container. */
  ifName: string;
}

/** What the network manager made for one running container. */
export interface ContainerNetState {
  containerId: string;
  /** Init pid whose netns holds the endpoints. */
  pid: number;
  endpoints: EndpointRecord[];
  /** Published ports as actually bound (random host ports resolved). */
  ports: PublishedPort[];
}

/** The addresses a container last had, by network id: its next start asks for them again (sticky addresses). */
export interface LastAddresses {
  version: 1;
  containerId: string;
  /** Network id → IPv4 address. */
  addresses: Record<string, string>;
}

export class NetworkStore {
  readonly dir: string;
  private readonly endpointsDir: string;
  private readonly addressesDir: string;

  constructor(root: string) {
    this.dir = join(root, 'networks');
    this.endpointsDir = join(this.dir, 'endpoints');
    this.addressesDir = join(this.dir, 'addresses');
    mkdirSync(this.endpointsDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.addressesDir, { recursive: true, mode: 0o700 });
  }

  loadLastAddresses(): LastAddresses[] {
    return this.readAll<LastAddresses>(this.addressesDir).filter((r) => r.version === 1);
  }

  saveLastAddresses(rec: LastAddresses): void {
    writeJsonAtomic(join(this.addressesDir, `${rec.containerId}.json`), rec);
  }

  deleteLastAddresses(containerId: string): void {
    rmSync(join(this.addressesDir, `${containerId}.json`), { force: true });
  }

  loadNetworks(): NetworkRecord[] {
    return this.readAll<NetworkRecord>(this.dir);
  }

  loadStates(): ContainerNetState[] {
    return this.readAll<ContainerNetState>(this.endpointsDir);
  }

  private readAll<T>(dir: string): T[] {
    const out: T[] = [];
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.json') || f.startsWith('.')) continue;
      const rec = readJsonFile<T>(join(dir, f));
      if (rec !== undefined) out.push(rec);
    }
    return out;
  }

  saveNetwork(rec: NetworkRecord): void {
    writeJsonAtomic(join(this.dir, `${rec.id}.json`), rec);
  }

  deleteNetwork(id: string): void {
    rmSync(join(this.dir, `${id}.json`), { force: true });
  }

  saveState(state: ContainerNetState): void {
    writeJsonAtomic(join(this.endpointsDir, `${state.containerId}.json`), state);
  }

  deleteState(containerId: string): void {
    rmSync(join(this.endpointsDir, `${containerId}.json`), { force: true });
  }
}
