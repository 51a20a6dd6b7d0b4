// Sticky addresses: the address each container last had on each network, so a container that restarts (restart
// policy, `restart`, stop + start, after a daemon restart) asks for the same address again and peers that cached
// it (a proxy that resolved a name once) keep reaching it. Only a preference: the address is released while the
// container is stopped, and another container may take it once every other address is in use. Docker keeps the
// same thing in the container's endpoint settings; here it lives in the container record (`state.lastAddresses`,
// written by the container manager with the exit it records anyway), and this is the network side's in-memory
// index of it: loaded from the records at start, kept up to date as containers leave their networks.

export class AddressMemory {
  /** Container id → network id → address. */
  private readonly byContainer = new Map<string, Map<string, string>>();

  /** At daemon start: what the container records remember. */
  load(records: Iterable<{ readonly id: string; readonly state: { readonly lastAddresses?: Readonly<Record<string, string>> | undefined } }>): void {
    this.byContainer.clear();
    for (const rec of records) {
      const last = rec.state.lastAddresses;
      if (last !== undefined && Object.keys(last).length > 0) this.byContainer.set(rec.id, new Map(Object.entries(last)));
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

  /** The addresses a container had, as it leaves its networks (its record keeps them: see detach). */
  remember(containerId: string, addresses: Readonly<Record<string, string>>): void {
    const nets = this.byContainer.get(containerId) ?? new Map<string, string>();
    for (const [networkId, ip] of Object.entries(addresses)) nets.set(networkId, ip);
    if (nets.size > 0) this.byContainer.set(containerId, nets);
  }

  /** The container left the network (`network disconnect`): a later connect gets any address. */
  forget(containerId: string, networkId: string): void {
    const nets = this.byContainer.get(containerId);
    if (nets === undefined) return;
    nets.delete(networkId);
    if (nets.size === 0) this.byContainer.delete(containerId);
  }

  /** The container was removed. */
  forgetContainer(containerId: string): void {
    this.byContainer.delete(containerId);
  }

  /** The network was removed. */
  forgetNetwork(networkId: string): void {
    for (const [id, nets] of this.byContainer) {
      nets.delete(networkId);
      if (nets.size === 0) this.byContainer.delete(id);
    }
  }
}
