// Persistent records of networks (<root>/networks/<id>.json) and of the live endpoints of each running
// container (<root>/networks/endpoints/<containerId>.json). Every write is atomic (temp file, rename), so a daemon
// killed at any instant finds either the old record or the new one; every record is versioned. A network's record
// is fsync'ed before the call returns; an endpoint state, written between a start's `ready` and `go`, is made
// durable a moment later, off the start (`flushLater`, as a container's record: after a host crash no container of
// it runs anyway).
import { mkdirSync, readdirSync, rmSync, unlink } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import {
  checkMembers, quarantinedError, quarantineRecord, readRecord, SAME_LAYOUT, TOO_NEW_HINT, withConsequence, writeRecord,
  type RecordFile, type RecordFormat, type Unversioned,
} from '../../common/versioned-record.js';
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

const NETWORK_FORMAT: RecordFormat<NetworkRecord> = {
  what: 'network record',
  version: 1,
  upgrades: { 0: SAME_LAYOUT },
  check: (d) => checkMembers(d, { id: 'string', name: 'string', subnet: 'string', gateway: 'string', bridge: 'string', labels: 'object', options: 'object' }),
};

const NET_STATE_FORMAT: RecordFormat<ContainerNetState> = {
  what: 'container network state',
  version: 1,
  upgrades: { 0: SAME_LAYOUT },
  check: (d) => checkMembers(d, { containerId: 'string', pid: 'number', endpoints: 'array', ports: 'array' }),
};

/**
 * Refused records (too new, damaged) are never acted on: a too-new file is neither overwritten nor deleted,
 * a damaged one is moved to quarantine. The bridge of a refused network is kept (`refusedNetworkIds`).
 */
export class NetworkStore {
  readonly dir: string;
  private readonly endpointsDir: string;
  /** Record paths (relative to the root) this build must not write or delete. */
  private readonly tooNew = new Set<string>();
  private readonly refusedNetworks = new Set<string>();

  constructor(private readonly root: string) {
    this.dir = join(root, 'networks');
    this.endpointsDir = join(this.dir, 'endpoints');
    mkdirSync(this.endpointsDir, { recursive: true, mode: 0o700 });
  }


  loadNetworks(): NetworkRecord[] {
    const { records, refused } = this.readAll('networks', NETWORK_FORMAT, 'the network is not managed by this build; its bridge is kept');
    for (const id of refused) this.refusedNetworks.add(id);
    return records;
  }

  /** Ids (from file names) of networks whose record was refused. */
  refusedNetworkIds(): ReadonlySet<string> {
    return this.refusedNetworks;
  }

  loadStates(): ContainerNetState[] {
    return this.readAll('networks/endpoints', NET_STATE_FORMAT, "the container's network endpoints are not re-adopted").records;
  }

  private readAll<T>(relDir: string, format: RecordFormat<T>, consequence: string): { records: T[]; refused: string[] } {
    const records: T[] = [];
    const refused: string[] = [];
    for (const name of readdirSync(join(this.root, relDir))) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const f: RecordFile = { root: this.root, rel: `${relDir}/${name}` };
      const read = readRecord(f, format);
      if (read.status === 'ok') { records.push(read.value); continue; }
      if (read.status === 'missing') continue;
      refused.push(name.slice(0, -'.json'.length));
      if (read.error.code === 'STATE_TOO_NEW') {
        this.tooNew.add(f.rel);
        withConsequence(f, read.error, consequence);
      } else {
        quarantinedError(f, read.error, quarantineRecord(f), consequence, `repair the copy and put it back as ${f.rel} while gantryd is stopped`);
      }
    }
    return { records, refused };
  }

  private write<T extends object & Unversioned>(rel: string, format: RecordFormat<T>, rec: T, o: { flushLater?: boolean } = {}): void {
    if (this.tooNew.has(rel)) throw new GantryError('STATE_TOO_NEW', `${rel} was written by a newer gantry; refusing to overwrite it`, { hint: TOO_NEW_HINT });
    writeRecord({ root: this.root, rel }, format, rec, o);
  }

  private remove(rel: string): void {
    if (this.tooNew.has(rel)) return; // never delete what this build cannot read
    rmSync(join(this.root, rel), { force: true });
  }

  saveNetwork(rec: NetworkRecord): void {
    this.write(`networks/${rec.id}.json`, NETWORK_FORMAT, rec);
  }

  deleteNetwork(id: string): void {
    this.remove(`networks/${id}.json`);
  }

  saveState(state: ContainerNetState): void {
    this.write(`networks/endpoints/${state.containerId}.json`, NET_STATE_FORMAT, state, { flushLater: true });
  }

  deleteState(containerId: string): void {
    this.remove(`networks/endpoints/${containerId}.json`);
  }

  /** deleteState() without waiting: unlinked on the thread pool (only for an id that is never written again). */
  deleteStateLater(containerId: string): void {
    const rel = `networks/endpoints/${containerId}.json`;
    if (this.tooNew.has(rel)) return;
    unlink(join(this.root, rel), () => undefined); // gone already is fine; what fails is deleted at the next start
  }
}
