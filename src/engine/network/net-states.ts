// The running containers' network state, one per container, and the endpoints of each network. The network manager
// asks by network at every start (IPAM: the addresses in use), every removal (is anything left for the network's
// DNS?) and every DNS query (whose is this client address?): with 10,000 containers running, each of those walked
// all of them (an `rm -f` of the last network's 1,000 of 10,000, profiled, spent 6.5 s of daemon CPU with that walk
// its hottest function; 3.7 s with this index). The index answers from the network's own endpoints. The manager adds and
// removes endpoints through this class (addEndpoint, removeEndpoint), so the index stays true to the states.
import type { ContainerNetState, EndpointRecord } from './store.js';

export interface NetworkEndpoint { containerId: string; endpoint: EndpointRecord }

export class ContainerNetStates {
  readonly #byContainer = new Map<string, ContainerNetState>();
  /** network id → its endpoints, each with its container's id */
  readonly #byNetwork = new Map<string, Map<EndpointRecord, string>>();

  get size(): number { return this.#byContainer.size; }
  get(containerId: string): ContainerNetState | undefined { return this.#byContainer.get(containerId); }
  has(containerId: string): boolean { return this.#byContainer.has(containerId); }
  values(): IterableIterator<ContainerNetState> { return this.#byContainer.values(); }

  /** Adds (or replaces) a container's state, with the endpoints it holds now. */
  set(state: ContainerNetState): void {
    this.delete(state.containerId);
    this.#byContainer.set(state.containerId, state);
    for (const ep of state.endpoints) this.#index(state.containerId, ep);
  }

  /** Forgets a container's state and its endpoints; returns it. */
  delete(containerId: string): ContainerNetState | undefined {
    const state = this.#byContainer.get(containerId);
    if (state === undefined) return undefined;
    this.#byContainer.delete(containerId);
    for (const ep of state.endpoints) this.#unindex(ep);
    return state;
  }

  /** A new endpoint of a container whose state is held (set). */
  addEndpoint(state: ContainerNetState, ep: EndpointRecord): void {
    state.endpoints.push(ep);
    if (this.#byContainer.get(state.containerId) === state) this.#index(state.containerId, ep);
  }

  removeEndpoint(state: ContainerNetState, ep: EndpointRecord): void {
    state.endpoints = state.endpoints.filter((x) => x !== ep);
    if (this.#byContainer.get(state.containerId) === state) this.#unindex(ep);
  }

  endpointsOn(networkId: string): NetworkEndpoint[] {
    return [...this.#byNetwork.get(networkId) ?? []].map(([endpoint, containerId]) => ({ containerId, endpoint }));
  }

  hasEndpointsOn(networkId: string): boolean { return (this.#byNetwork.get(networkId)?.size ?? 0) > 0; }

  /** The container whose endpoint on the network has address IP. */
  ownerOf(networkId: string, ip: string): ContainerNetState | undefined {
    for (const [ep, containerId] of this.#byNetwork.get(networkId) ?? []) if (ep.ip === ip) return this.#byContainer.get(containerId);
    return undefined;
  }

  #index(containerId: string, ep: EndpointRecord): void {
    let eps = this.#byNetwork.get(ep.networkId);
    if (eps === undefined) this.#byNetwork.set(ep.networkId, eps = new Map());
    eps.set(ep, containerId);
  }

  #unindex(ep: EndpointRecord): void {
    const eps = this.#byNetwork.get(ep.networkId);
    eps?.delete(ep);
    if (eps?.size === 0) this.#byNetwork.delete(ep.networkId);
  }
}
