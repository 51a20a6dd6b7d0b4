// Sticky addresses: the address each container last had on each network, persisted, so a container that
// restarts (restart policy, `restart`, stop + start, after a daemon restart) asks for the same address again
// and peers that cached it (a proxy that resolved a name once) keep reaching it. Only a preference: the
// address is released while the container is stopped, and another container may take it once every other
// address is in use. Docker keeps the same thing in the endpoint settings of the container.
import type { LastAddresses } from './store.js';

/** Where the memory is persisted (NetworkStore fits). */
export interface AddressMemoryStore {
  loadLastAddresses(): LastAddresses[];
  saveLastAddresses(rec: LastAddresses): void;
  deleteLastAddresses(containerId: string): void;
}

export class AddressMemory {
  /** Container id → network id → address. */
  private readonly byContainer = new Map<string, Map<string, string>>();

  constructor(private readonly store: AddressMemoryStore) {}

  /** Loads what was remembered; forgets (and deletes the files of) containers `exists` no longer knows. */
  load(exists: (containerId: string) => boolean): void {
    for (const rec of this.store.loadLastAddresses()) {
      if (!exists(rec.containerId)) { this.store.deleteLastAddresses(rec.containerId); continue; }
      this.byContainer.set(rec.containerId, new Map(Object.entries(rec.addresses)));
    }
  }

  preferred(containerId: string, networkId: string): string | undefined {
    return this.byContainer.get(containerId)?.get(networkId);
  }

  /** Addresses other containers would like back on `networkId`. */
  wantedByOthers(networkId: string, containerId: string): string[] {
    const out: string[] = [];
    for (const [id, nets] of this.byContainer) {
      const ip = nets.get(networkId);
      if (id !== containerId && ip !== undefined) out.push(ip);
    }
    return out;
  }

  remember(containerId: string, networkId: string, ip: string): void {
    const nets = this.byContainer.get(containerId) ?? new Map<string, string>();
    if (nets.get(networkId) === ip) return;
    nets.set(networkId, ip);
    this.byContainer.set(containerId, nets);
    this.save(containerId, nets);
  }

  /** The container left the network (`network disconnect`): a later connect gets any address. */
  forget(containerId: string, networkId: string): void {
    const nets = this.byContainer.get(containerId);
    if (nets === undefined || !nets.delete(networkId)) return;
    this.save(containerId, nets);
  }

  /** The container was removed. */
  forgetContainer(containerId: string): void {
    if (!this.byContainer.delete(containerId)) return;
    this.store.deleteLastAddresses(containerId);
  }

  /** The network was removed. */
  forgetNetwork(networkId: string): void {
    for (const [id, nets] of this.byContainer) if (nets.delete(networkId)) this.save(id, nets);
  }

  private save(containerId: string, nets: Map<string, string>): void {
    if (nets.size === 0) {
      this.byContainer.delete(containerId);
      this.store.deleteLastAddresses(containerId);
      return;
    }
    this.store.saveLastAddresses({ containerId, addresses: Object.fromEntries([...nets].sort(([a], [b]) => a.localeCompare(b))) });
  }
}
