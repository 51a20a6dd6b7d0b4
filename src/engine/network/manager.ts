// Bridge networking for the engine: network records (create/ls/inspect/rm), the default "bridge" network,
// and per container the veth + address + default route (attach, between the shim's `ready` and `go`), DNS
// names on user networks, published ports (userland proxy), /etc/hosts and /etc/resolv.conf. Live objects
// are recorded atomically, so a daemon restarted after kill -9 re-adopts them and removes what is gone.
// The kernel work is in bridge.ts (netlink), the address arithmetic in ipam.ts: this module only decides.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import { CONTAINER_NAME_RE, newId, shortId } from '../../common/ids.js';
import type { ContainerView, HostSettings, NetworkAttachment, PortBinding as RecordPortBinding } from '../containers/record.js';
import { isActive } from '../containers/record.js';
import type { EventBus } from '../events/bus.js';
import {
  attachContainer, bridgeIfName, createBridge, deleteBridge, detachContainer, hostRouteSubnets, findLink, isExists, linkExists,
  removeStaleLinks, vethIfName, type LinkInfo, type NetnsTarget,
} from './bridge.js';
import type { TeardownGate } from '../containers/teardown-gate.js';
import { networkPruneFilter, type Filters } from './filters.js';
import { DnsTable, readHostResolvers, startDnsServer, type DnsServer, type DnsServerOptions } from './dns.js';
import { ScopedDnsTable } from './dns-scope.js';
import { LinkReaper } from './link-reaper.js';
import { NONE, NetnsPool, POOLED_IFNAME, configurePooledVeth, type PooledNetns, type PooledVeth } from './netns-pool.js';
import { BridgeBypass, bypassCapacity, type BypassMember } from './bridge-bypass.js';
import { disableIPv6InNetns } from './ipv6-off.js';
import { withRtnl } from '../../sys/netlink.js';
import { containerResolvConf, parseAddHost, parseResolvConf, renderHosts, renderResolvConf } from './etc-files.js';
import { containerNetworkSettings, inspectNetwork, networkEntry, type EndpointOwner, type NetworkView } from './inspect.js';
import { AddressMemory } from './address-memory.js';
import { allocateAddress, DEFAULT_POOL, macForAddress, parseSubnet, planNetworkAddressing, requireIPv4 } from './ipam.js';
import { startPortProxies, startPortProxy, type PortProxy } from './port-proxy.js';
import { adoptNativeTcpProxy, controlPath, sweepNativeTcpProxies } from './native-port-proxy.js';
import { dnatApplies, PortDnat, withDnat, type DnatEntry } from './port-dnat.js';
import { publishAllPorts, type PortBinding, type PublishedPort } from './ports.js';
import type { EndpointRequest, NetworkCreateRequest, NetworkService } from '../engine.js';
import { NetworkStore, type ContainerNetState, type EndpointRecord, type NetworkRecord } from './store.js';
import { ContainerNetStates, type NetworkEndpoint } from './net-states.js';

/** What the network manager needs of containers: read-only records, and the one writer to report to. */
export interface ContainerLookup {
  find(ref: string): ContainerView | undefined;
  get(ref: string): ContainerView;
  all(): ContainerView[];
  /** Records a container's network configuration (connect/disconnect); the container manager owns records. */
  setNetworks(id: string, networkMode: string, networks: readonly NetworkAttachment[]): void;
  /** Hands the container's /etc/hosts and resolv.conf, rendered here, to the container side, which owns its files. */
  writeNetworkFiles(id: string, files: { hosts: string; resolvConf: string }): void;
  /** Containers whose record was refused (too new, damaged): their endpoints are kept as they are. */
  held?(): ReadonlySet<string>;
}

export interface NetworkManagerOptions {
  root: string;
  /** The daemon's kernel-object prefix; links carry a short form of it (linkPrefixFor). */
  prefix: string;
  containers: ContainerLookup;
  events?: EventBus | undefined;
  log?: ((msg: string) => void) | undefined;
  /** The host's resolv.conf (tests may point elsewhere). */
  resolvConfPath?: string | undefined;
  /** Container-to-container unicast around the bridge (bridge-bypass.ts); default on. */
  bridgeBypass?: boolean | undefined;
  /** Published TCP ports through gantry-portproxy (native-port-proxy.ts) when it is built; default on. */
  nativePortProxy?: boolean | undefined;
  /** Local clients of published TCP ports through DNAT in our own nftables table (port-dnat.ts); default on. */
  portDnat?: boolean | undefined;
  /** Network namespaces (and bridge veths) made ahead of starts (netns-pool.ts); default on. */
  netnsPool?: boolean | undefined;
  /**
   * Holds what removals leave to do while other removals are in flight (containers/teardown-gate.ts): a removed
   * container's veth is deleted from there, isolated on its bridge before the removal answers. Without it, deleted
   * at once (queued to the link reaper).
   */
  teardown?: HeldTeardown | undefined;
}

/** The part of the teardown gate (containers/teardown-gate.ts) the network manager uses. */
type HeldTeardown = Pick<TeardownGate, 'later'>;

export type { EndpointRequest, NetworkCreateRequest };

/** A published port as the record keeps it; a host range (8000-8010:80) carries its end. */
type RecordBinding = RecordPortBinding & { hostPortEnd?: number | undefined };

export const DEFAULT_NETWORK = 'bridge';
const RESERVED_NAMES = new Set(['bridge', 'host', 'none', 'default']);
const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Short link prefix of a daemon: `gt` + 4 hex of a hash of its prefix (links: `gtXXXX0`, `gtXXXXbr-…`, `gtXXXXv…`). */
export function linkPrefixFor(prefix: string): string {
  return `gt${createHash('sha256').update(prefix).digest('hex').slice(0, 4)}`;
}

const pseudoIds = new Map<string, string>();
/** The stable id of the pseudo network `name` (host, none) of a daemon: a hash, computed once (ps asks per container). */
function pseudoId(prefix: string, name: string): string {
  const key = `${prefix}/${name}`;
  let id = pseudoIds.get(key);
  if (id === undefined) { id = createHash('sha256').update(key).digest('hex'); pseudoIds.set(key, id); }
  return id;
}

const uniq = (xs: Iterable<string>): string[] => [...new Set(xs)];

interface Wanted {
  net: NetworkRecord;
  aliases: string[];
  ip: string | undefined;
}

export class NetworkManager implements NetworkService {
  readonly linkPrefix: string;
  private readonly store: NetworkStore;
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly states = new ContainerNetStates();
  private readonly proxies = new Map<string, PortProxy[]>();
  /** Start-first replacements under way: new container id → the old one, whose published ports it takes over. */
  private readonly handovers = new Map<string, string>();
  private readonly tables = new Map<string, DnsTable>();
  private readonly dns = new Map<string, Promise<DnsServer>>();
  private readonly lastIp = new Map<string, string>();
  /** The address each container had last on each network: asked for again at its next start. */
  private readonly addresses: AddressMemory;
  /** Endpoints of containers found dead at start (unplugged then), until recovery detaches them and records the exit. */
  private readonly departed = new Map<string, Record<string, string>>();
  private unsubscribe: (() => void) | undefined;
  private readonly created = new Date().toISOString();
  /** Bridges known to exist (made or adopted by this daemon). */
  private readonly bridgesUp = new Set<string>();
  private readonly reaper: LinkReaper;
  /** Removed containers' veths, isolated on their bridges, whose deletion waits in the teardown gate. */
  private readonly heldLinks = new Set<string>();
  /** Namespaces made ahead of starts (undefined when off), and the ones taken by starts under way. */
  private readonly pool: NetnsPool | undefined;
  private readonly pooled = new Map<string, PooledNetns>();
  /** The bridge bypass (undefined when off or refused by the kernel); `bypassJoins` false once a join failed. */
  private bypass: BridgeBypass | undefined;
  private bypassJoins = true;
  /** Control sockets of the gantry-portproxy processes (undefined: TCP ports are proxied inside the daemon). */
  private readonly portControlDir: string | undefined;
  /** The DNAT path of published ports (undefined when off or not available here). */
  private dnat: PortDnat | undefined;

  constructor(private readonly o: NetworkManagerOptions) {
    this.portControlDir = o.nativePortProxy === false ? undefined : join(o.root, 'ports');
    this.linkPrefix = linkPrefixFor(o.prefix);
    this.store = new NetworkStore(o.root);
    this.addresses = new AddressMemory();
    this.reaper = new LinkReaper((msg) => this.log(msg));
    this.pool = o.netnsPool === false ? undefined
      : new NetnsPool({ linkPrefix: this.linkPrefix, deleteLink: (name) => this.reaper.delete(name), log: (msg) => this.log(msg) });
  }

  private log(msg: string): void {
    this.o.log?.(`network: ${msg}`);
  }

  // ---- start-up -------------------------------------------------------------------------------------------

  /**
   * Before container recovery: load records, re-adopt bridges, keep the endpoints of containers that still
   * run (their DNS names and published ports come back), drop those of containers that are gone, and remove
   * links of ours that no record explains.
   */
  async open(): Promise<void> {
    for (const n of this.store.loadNetworks()) this.networks.set(n.id, n);
    this.addresses.load(this.o.containers.all());
    this.unsubscribe = this.o.events?.subscribe((e) => {
      if (e.Type === 'container' && e.Action === 'destroy') this.addresses.forgetContainer(e.Actor.ID);
    });
    if (this.defaultNetwork() === undefined) {
      const addr = planNetworkAddressing({}, { networks: this.subnets(), hostRoutes: hostRouteSubnets(this.linkPrefix) });
      const rec: NetworkRecord = {
        id: newId(), name: DEFAULT_NETWORK, driver: 'bridge', created: new Date().toISOString(), subnet: addr.subnet,
        gateway: addr.gateway, internal: false, bridge: `${this.linkPrefix}0`, labels: {}, options: {}, isDefault: true,
      };
      this.store.saveNetwork(rec);
      this.networks.set(rec.id, rec);
    }
    this.openBypass();
    // each endpoint's link looked up by name: a dump of every link of the host is slow with thousands, and never
    // completes while links come and go (other daemons' containers)
    const seen = new Map<string, LinkInfo | undefined>();
    const get = (name: string): LinkInfo | undefined => {
      if (!seen.has(name)) seen.set(name, findLink(name));
      return seen.get(name);
    };
    const links = { get, has: (name: string): boolean => get(name) !== undefined };
    const restored: ContainerNetState[] = [];
    for (const state of this.store.loadStates()) {
      const rec = this.o.containers.find(state.containerId);
      const held = this.o.containers.held?.().has(state.containerId) === true; // record refused: left alone
      const alive = (held || (rec !== undefined && isActive(rec.state.status) && rec.state.pid === state.pid))
        && state.endpoints.every((ep) => links.has(ep.hostIfName) && this.networks.has(ep.networkId));
      if (!alive) {
        // It died while no daemon watched: recovery records the exit, with these addresses (detach answers them).
        if (rec !== undefined) this.departed.set(state.containerId, addressesOf(state));
        for (const ep of state.endpoints) if (links.has(ep.hostIfName)) this.quietly(() => detachContainer(ep.hostIfName));
        this.store.deleteState(state.containerId);
        continue;
      }
      this.states.set(state);
      for (const ep of state.endpoints) {
        for (const name of ep.dnsNames) this.table(ep.networkId).add(name, ep.ip);
      }
      restored.push(state);
    }
    const keep = new Set<string>();
    for (const n of this.networks.values()) {
      if (n.isDefault && !links.has(n.bridge)) continue; // made on first use
      createBridge({ name: n.bridge, subnet: n.subnet, gateway: n.gateway, internal: n.internal });
      this.bridgesUp.add(n.bridge);
      keep.add(n.bridge);
    }
    for (const s of this.states.values()) for (const ep of s.endpoints) keep.add(ep.hostIfName);
    for (const id of this.store.refusedNetworkIds()) keep.add(bridgeIfName(this.linkPrefix, id)); // record refused: left alone
    const removed = removeStaleLinks(this.linkPrefix, keep);
    if (removed.length > 0) this.log(`removed stale links ${removed.join(', ')}`);
    this.adoptBypass(links);
    for (const state of restored) {
      for (const ep of state.endpoints) {
        const net = this.networks.get(ep.networkId);
        if (net !== undefined && !net.isDefault) await this.ensureDns(net).catch((e: unknown) => this.log(`DNS for ${net.name}: ${String(e)}`));
      }
      const target = state.endpoints[0];
      if (state.ports.length > 0 && target !== undefined) {
        try {
          this.proxies.set(state.containerId, await this.restorePorts(state.ports, target.ip));
        } catch (e) {
          this.log(`cannot re-publish ports of ${shortId(state.containerId)}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
    this.openDnat();
    await this.sweepPortProxies();
  }

  /** The DNAT table rewritten from the ports restored (one transaction), and the restored proxies wrapped. */
  private openDnat(): void {
    if (this.o.portDnat === false) {
      PortDnat.drop(this.linkPrefix); // rules an earlier run left would send local clients around the proxies
      for (const bridge of this.bridgesUp) this.quietly(() => PortDnat.denyLoopbackOut(bridge));
      return;
    }
    const entries: DnatEntry[] = [];
    for (const list of this.proxies.values()) {
      for (const p of list) {
        if (dnatApplies(p.protocol, p.hostIp, p.target.ip)) entries.push({ hostIp: p.hostIp, hostPort: p.hostPort, ip: p.target.ip, port: p.containerPort });
      }
    }
    const opened = PortDnat.open(this.linkPrefix, entries, (msg) => this.log(msg));
    if (typeof opened === 'string') {
      this.log(`published ports go through their proxies only (no DNAT for local clients): ${opened}`);
      for (const bridge of this.bridgesUp) this.quietly(() => PortDnat.denyLoopbackOut(bridge));
      return;
    }
    this.dnat = opened;
    for (const bridge of this.bridgesUp) this.allowDnatOut(bridge);
    for (const [id, list] of this.proxies) this.proxies.set(id, list.map((p) => withDnat(p, opened, { inTable: true })));
  }

  /** A proxy with the DNAT path added (when on); a failure there is logged, the proxy serves the port alone. */
  private fast(proxies: PortProxy[]): PortProxy[] {
    const dnat = this.dnat;
    return dnat === undefined ? proxies : proxies.map((p) => withDnat(p, dnat));
  }

  /**
   * After a restart: TCP ports whose gantry-portproxy still runs are adopted (pointed at `ip` again, in case),
   * the others (UDP, proxies that died) are started anew on the same host ports. All or nothing, like a start.
   */
  private async restorePorts(ports: readonly PublishedPort[], ip: string): Promise<PortProxy[]> {
    const got: PortProxy[] = [];
    try {
      for (const p of ports) {
        const adopted = p.protocol === 'tcp' && this.portControlDir !== undefined
          ? await adoptNativeTcpProxy(this.portControlDir, p.hostIp, p.hostPort, p.containerPort)
          : undefined;
        if (adopted !== undefined) {
          got.push(adopted);
          if (adopted.target.ip !== ip) await adopted.retarget(ip);
          continue;
        }
        got.push(await startPortProxy({
          hostIp: p.hostIp, hostPort: p.hostPort, protocol: p.protocol, target: { ip, port: p.containerPort }, controlDir: this.portControlDir,
        }));
      }
      return got;
    } catch (e) {
      await Promise.all(got.map((p) => p.close()));
      throw e;
    }
  }

  /** Proxies no live container explains (its container was removed while no daemon ran) are stopped. */
  private async sweepPortProxies(): Promise<void> {
    if (this.portControlDir === undefined) return;
    const keep = new Set<string>();
    for (const list of this.proxies.values()) {
      for (const p of list) if (p.outlivesDaemon) keep.add(controlPath(this.portControlDir, p.hostIp, p.hostPort));
    }
    const stopped = await sweepNativeTcpProxies(this.portControlDir, keep);
    if (stopped.length > 0) this.log(`stopped port proxies no container explains: ${stopped.join(', ')}`);
  }

  /** The bridge bypass, unless turned off or this kernel refuses its program; then we say what a user can do. */
  private openBypass(): void {
    if (this.o.bridgeBypass === false) {
      this.warnIfBridgedTrafficIsFiltered('the bridge bypass is off (GANTRY_BRIDGE_BYPASS=0)');
      return;
    }
    try {
      BridgeBypass.probe();
      this.bypass = new BridgeBypass();
    } catch (e) {
      this.warnIfBridgedTrafficIsFiltered(`the bridge bypass is not available (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  /** After a restart: each network's bypass rebuilt from the endpoints re-adopted (their veths' indexes in `links`). */
  private adoptBypass(links: { get(name: string): { index: number } | undefined }): void {
    if (this.bypass === undefined) return;
    const members = new Map<string, BypassMember[]>();
    for (const s of this.states.values()) {
      for (const ep of s.endpoints) {
        const index = links.get(ep.hostIfName)?.index;
        if (index === undefined) continue;
        members.set(ep.networkId, [...members.get(ep.networkId) ?? [], { hostIfIndex: index, mac: ep.mac }]);
      }
    }
    try {
      for (const [id, list] of members) {
        const net = this.networks.get(id);
        if (net !== undefined && bypassAllowed(net)) this.bypass.adopt(net.bridge, bypassCapacity(parseSubnet(net.subnet, false).prefixLen), list);
      }
    } catch (e) {
      this.bypassFailed(e);
    }
  }

  private joinBypass(net: NetworkRecord, member: BypassMember): void {
    if (this.bypass === undefined || !this.bypassJoins || !bypassAllowed(net)) return;
    try {
      if (!this.bypass.join(net.bridge, bypassCapacity(parseSubnet(net.subnet, false).prefixLen), member)) {
        this.log(`network ${net.name} has more containers than its bridge bypass holds; the others talk through the bridge`);
      }
    } catch (e) {
      this.bypassFailed(e);
    }
  }

  /** New containers talk through the bridge from now on (those already in keep their bypass until they leave). */
  private bypassFailed(e: unknown): void {
    this.bypassJoins = false;
    this.warnIfBridgedTrafficIsFiltered(`the bridge bypass failed (${e instanceof Error ? e.message : String(e)})`);
  }

  /**
   * Without the bypass: with br_netfilter on (Docker loads it), bridged IPv4 goes through the host's iptables FORWARD
   * chain; where its policy is DROP (Docker's), containers on one network cannot reach each other. We never edit
   * others' rules, so we say what to add. (The bridge's own nf_call_iptables=0 cannot override the sysctl: the
   * kernel ORs the two.)
   */
  private warnIfBridgedTrafficIsFiltered(why: string): void {
    let on = '';
    try {
      on = readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim();
    } catch {
      this.log(why);
      return; // br_netfilter not loaded: bridged traffic never meets iptables
    }
    if (on !== '1') {
      this.log(why);
      return;
    }
    this.log(`${why}; bridged traffic on this host goes through iptables (net.bridge.bridge-nf-call-iptables=1, as where Docker runs): `
      + 'if the FORWARD policy is DROP, containers on one network cannot reach each other: allow it with '
      + `\`iptables -I DOCKER-USER -i ${this.linkPrefix}+ -o ${this.linkPrefix}+ -j ACCEPT\` (without Docker: -I FORWARD)`);
  }

  private quietly(fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      this.log(e instanceof Error ? e.message : String(e));
    }
  }

  /**
   * Stops DNS servers and the port proxies inside the daemon (containers keep running, and so do their
   * gantry-portproxy processes); removes the default bridge if unused, and the DNAT table when nothing needs it:
   * no published port and no bridge of ours left (a bridge's containers need its loopback drop rule).
   */
  async close(): Promise<void> {
    this.unsubscribe?.();
    await Promise.all([...this.proxies.values()].flat().map((p) => p.release()));
    this.proxies.clear();
    const servers = await Promise.all([...this.dns.values()].map((p) => p.catch(() => undefined)));
    this.dns.clear();
    await Promise.all(servers.map((s) => s?.close()));
    const def = this.defaultNetwork();
    if (def !== undefined && this.endpointsOn(def.id).length === 0 && this.bridgesUp.delete(def.bridge)) this.quietly(() => deleteBridge(def.bridge));
    if (this.dnat !== undefined && this.dnat.size === 0 && this.bridgesUp.size === 0) {
      await this.dnat.settled();
      PortDnat.drop(this.linkPrefix);
      this.dnat = undefined;
    }
    this.bypass?.close();
    this.pool?.close(); // its veths go through the reaper, drained just below
    this.releaseHeldLinks(); // and so do removed containers' (the teardown gate lets its work go after this)
    for (const ns of this.pooled.values()) this.pool?.release(ns);
    this.pooled.clear();
    await this.reaper.close();
  }

  // ---- networks -------------------------------------------------------------------------------------------

  private subnets(): { name: string; subnet: string }[] {
    return [...this.networks.values()].map((n) => ({ name: n.name, subnet: n.subnet }));
  }

  defaultNetwork(): NetworkRecord | undefined {
    for (const n of this.networks.values()) if (n.isDefault) return n;
    return undefined;
  }

  /** Docker's lookup order: full id, exact name, unique id prefix. "default" is the default network. */
  findNetwork(ref: string): NetworkRecord | undefined {
    if (ref === 'default') return this.defaultNetwork();
    const byId = this.networks.get(ref);
    if (byId !== undefined) return byId;
    for (const n of this.networks.values()) if (n.name === ref) return n;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const matches = [...this.networks.values()].filter((n) => n.id.startsWith(ref));
    if (matches.length > 1) {
      throw new GantryError('CONFLICT', `network id prefix "${ref}" is ambiguous (${matches.length} networks match)`, { hint: 'give more characters of the id, or the name' });
    }
    return matches[0];
  }

  getNetwork(ref: string): NetworkRecord {
    const n = this.findNetwork(ref);
    if (n === undefined) {
      throw new GantryError('NETWORK_NOT_FOUND', `network ${ref} not found`, { hint: 'gantry network ls lists networks; gantry network create NAME makes one', detail: { network: ref } });
    }
    return n;
  }

  private views(): NetworkView[] {
    const bridges: NetworkView[] = [...this.networks.values()].map((r) => ({ id: r.id, name: r.name, driver: 'bridge', created: r.created, record: r }));
    const pseudo: NetworkView[] = [
      { id: pseudoId(this.o.prefix, 'host'), name: 'host', driver: 'host', created: this.created },
      { id: pseudoId(this.o.prefix, 'none'), name: 'none', driver: 'null', created: this.created },
    ];
    return [...bridges, ...pseudo].sort((a, b) => a.name.localeCompare(b.name));
  }

  private view(ref: string): NetworkView {
    const pseudo = this.views().find((v) => v.record === undefined && (v.name === ref || v.id === ref || (/^[0-9a-f]{3,}$/.test(ref) && v.id.startsWith(ref))));
    if (pseudo !== undefined) return pseudo;
    const r = this.getNetwork(ref);
    return { id: r.id, name: r.name, driver: 'bridge', created: r.created, record: r };
  }

  private owners(networkId: string): EndpointOwner[] {
    return this.endpointsOn(networkId).map(({ containerId, endpoint }) => ({
      containerId, endpoint, name: this.o.containers.find(containerId)?.name ?? shortId(containerId),
    }));
  }

  /** The running containers of a view: endpoints on a bridge; on host/none, the containers in that mode (no address). */
  private members(v: NetworkView): EndpointOwner[] {
    if (v.record !== undefined) return this.owners(v.id);
    return this.o.containers.all()
      .filter((rec) => rec.host.networkMode === v.name && isActive(rec.state.status) && rec.state.status !== 'restarting' && rec.state.pid > 0)
      .map((rec) => ({
        containerId: rec.id, name: rec.name,
        endpoint: { endpointId: pseudoId(this.o.prefix, `${v.name}/${rec.id}/${rec.state.pid}`), mac: '', ip: '', prefixLen: 0 },
      }));
  }

  list(): ReturnType<typeof inspectNetwork>[] {
    return this.views().map((v) => inspectNetwork(v, this.members(v)));
  }

  inspect(ref: string): ReturnType<typeof inspectNetwork> {
    const v = this.view(ref);
    return inspectNetwork(v, this.members(v));
  }

  /**
   * `network prune`: removes every user network with no container attached that the filters select (label,
   * label!, until), and returns their names. A network that gains a container meanwhile is kept.
   */
  async prune(filters: Filters = {}, now = Date.now()): Promise<string[]> {
    const select = networkPruneFilter(filters, now);
    const removed: string[] = [];
    for (const n of this.list().filter(select)) {
      try {
        await this.remove(n.Id);
        removed.push(n.Name);
      } catch (e) {
        if (!(e instanceof GantryError) || !['NETWORK_IN_USE', 'NETWORK_NOT_FOUND'].includes(e.code)) throw e;
      }
    }
    return removed;
  }

  /** `network create`. Errors: USAGE/INVALID_ARGUMENT (name, subnet, gateway), NAME_IN_USE, SUBNET_OVERLAP. */
  create(req: NetworkCreateRequest): NetworkRecord {
    const name = req.name;
    if (!NETWORK_NAME_RE.test(name) || name.length > 128) {
      throw new GantryError('INVALID_ARGUMENT', `invalid network name "${name}"`, { hint: 'names match [a-zA-Z0-9][a-zA-Z0-9_.-]*' });
    }
    if (RESERVED_NAMES.has(name)) {
      throw new GantryError('NAME_IN_USE', `network name "${name}" is reserved (a pre-defined network)`, { hint: 'choose another name' });
    }
    if ([...this.networks.values()].some((n) => n.name === name)) {
      throw new GantryError('NAME_IN_USE', `network with name ${name} already exists`, { hint: 'choose another name, or remove it first (gantry network rm)' });
    }
    if (req.driver !== undefined && req.driver !== '' && req.driver !== 'bridge') {
      throw new GantryError('UNSUPPORTED', `network driver "${req.driver}" is not supported`, { hint: 'only the bridge driver exists' });
    }
    const addr = planNetworkAddressing({ subnet: req.subnet, gateway: req.gateway }, { networks: this.subnets(), hostRoutes: hostRouteSubnets(this.linkPrefix) });
    const id = newId();
    const rec: NetworkRecord = {
      id, name, driver: 'bridge', created: new Date().toISOString(), subnet: addr.subnet, gateway: addr.gateway,
      internal: req.internal ?? false, bridge: bridgeIfName(this.linkPrefix, id), labels: req.labels ?? {},
      options: req.options ?? {}, isDefault: false,
    };
    this.createBridgeAlone(rec, req.subnet === undefined);
    this.bridgesUp.add(rec.bridge);
    this.allowDnatOut(rec.bridge);
    try {
      this.store.saveNetwork(rec);
    } catch (e) {
      this.bridgesUp.delete(rec.bridge);
      this.quietly(() => deleteBridge(rec.bridge));
      throw e;
    }
    this.networks.set(id, rec);
    this.o.events?.emit('network', 'create', id, { name, type: 'bridge' });
    return rec;
  }

  /** `network rm`. Errors: NETWORK_NOT_FOUND, CONFLICT (pre-defined), NETWORK_IN_USE naming the containers. */
  async remove(ref: string): Promise<void> {
    const v = this.view(ref);
    const net = v.record;
    if (net === undefined || net.isDefault) {
      throw new GantryError('CONFLICT', `${v.name} is a pre-defined network and cannot be removed`);
    }
    const users = this.owners(net.id).map((o) => o.name);
    if (users.length > 0) {
      throw new GantryError('NETWORK_IN_USE', `network ${net.name} is in use by container${users.length > 1 ? 's' : ''} ${users.join(', ')}`, {
        hint: `stop or disconnect them first (gantry network disconnect ${net.name} CONTAINER)`, detail: { containers: users },
      });
    }
    await this.stopDns(net.id);
    this.pool?.drop(net.id);
    // removed containers' veths still held: deleted first, so the bridge goes without ports (the kernel would
    // release them with it, one by one, as slowly)
    this.releaseHeldLinks();
    // Down at once (no traffic, no routes); the kernel's slow deletion happens off the main thread.
    withRtnl((nl) => {
      const link = nl.getLink(net.bridge);
      if (link !== undefined) nl.setUp(link.index, false);
    });
    this.reaper.delete(net.bridge);
    this.bypass?.forget(net.bridge);
    this.bridgesUp.delete(net.bridge);
    this.store.deleteNetwork(net.id);
    this.networks.delete(net.id);
    this.tables.delete(net.id);
    this.lastIp.delete(net.id);
    this.addresses.forgetNetwork(net.id);
    this.o.events?.emit('network', 'destroy', net.id, { name: net.name, type: 'bridge' });
  }

  // ---- what a container wants --------------------------------------------------------------------------------

  /** Networks a container joins at start, in order (the first holds its default route and published ports). */
  private wanted(rec: ContainerView): Wanted[] {
    const mode = rec.host.networkMode;
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return [];
    const out: Wanted[] = [];
    const add = (ref: string): void => {
      const net = this.getNetwork(ref);
      if (out.some((w) => w.net.id === net.id)) return;
      const cfg = rec.host.networks.find((n) => this.findNetwork(n.network)?.id === net.id);
      out.push({ net, aliases: [...cfg?.aliases ?? []], ip: cfg?.ipv4Address || undefined });
    };
    add(mode);
    for (const n of rec.host.networks) add(n.network);
    return out;
  }

  /** Checks at create time (nothing is made): networks exist, --ip fits, aliases and ports are allowed. */
  validate(host: HostSettings): void {
    const mode = host.networkMode;
    if (mode.startsWith('container:') && (host.portBindings.length > 0 || host.publishAllPorts)) {
      throw new GantryError('INVALID_ARGUMENT', 'conflicting options: port publishing and the container type network mode', { hint: 'publish the ports on the container whose network is shared' });
    }
    if (mode.startsWith('container:')) {
      // The joiner uses the other container's /etc/hosts and /etc/resolv.conf: its own settings would be lost.
      const lost = [host.dns.length > 0 || host.dnsSearch.length > 0 ? 'dns' : '', host.extraHosts.length > 0 ? 'custom host-to-IP mapping' : ''].filter(Boolean);
      if (lost.length > 0) {
        throw new GantryError('INVALID_ARGUMENT', `conflicting options: ${lost.join(' and ')} and the container type network mode`, { hint: 'give them to the container whose network is shared' });
      }
    }
    const special = mode === 'host' || mode === 'none' || mode.startsWith('container:');
    if (special && host.networks.some((n) => n.network !== mode)) {
      throw new GantryError('INVALID_ARGUMENT', `conflicting options: network mode ${mode} cannot be combined with other networks`);
    }
    if (!special) this.getNetwork(mode);
    for (const n of host.networks) {
      if (special) break;
      const net = this.getNetwork(n.network);
      this.checkEndpoint(net, n);
    }
    for (const h of host.extraHosts) parseAddHost(h, '0.0.0.0');
    for (const d of host.dns) requireIPv4(d, '--dns address');
  }

  private checkEndpoint(net: NetworkRecord, req: { aliases?: string[] | undefined; ipv4Address?: string | undefined }): void {
    if (net.isDefault && (req.aliases ?? []).length > 0) {
      throw new GantryError('INVALID_ARGUMENT', 'network-scoped aliases are supported only for containers on user-defined networks', { hint: 'gantry network create NAME, then --network NAME --network-alias ALIAS' });
    }
    if (req.ipv4Address !== undefined && req.ipv4Address !== '') {
      if (net.isDefault) {
        throw new GantryError('INVALID_ARGUMENT', 'a user-specified IP address is supported only on user-defined networks', { hint: 'gantry network create --subnet CIDR NAME, then --network NAME --ip ADDRESS' });
      }
      allocateAddress(net.subnet, { gateway: net.gateway, inUse: this.inUse(net.id), requested: req.ipv4Address });
    }
  }

  // ---- attach / detach (ContainerNetworking) -------------------------------------------------------------------

  private table(networkId: string): DnsTable {
    let t = this.tables.get(networkId);
    if (t === undefined) {
      t = new DnsTable();
      this.tables.set(networkId, t);
    }
    return t;
  }

  private endpointsOn(networkId: string): NetworkEndpoint[] { return this.states.endpointsOn(networkId); }

  private inUse(networkId: string): string[] {
    return this.endpointsOn(networkId).map((e) => e.endpoint.ip);
  }

  /** Bridges missing from the kernel are made; the default one on first use, re-planned if a host route took its subnet. */
  private ensureBridge(net: NetworkRecord): void {
    if (this.bridgesUp.has(net.bridge)) return;
    if (linkExists(net.bridge)) {
      this.bridgesUp.add(net.bridge);
      this.allowDnatOut(net.bridge);
      return;
    }
    const others = this.subnets().filter((s) => s.name !== net.name);
    if (net.isDefault) {
      const hostRoutes = hostRouteSubnets(this.linkPrefix);
      try {
        planNetworkAddressing({ subnet: net.subnet }, { networks: others, hostRoutes });
      } catch {
        const addr = planNetworkAddressing({}, { networks: others, hostRoutes });
        net.subnet = addr.subnet;
        net.gateway = addr.gateway;
        this.store.saveNetwork(net);
      }
    }
    const before = net.subnet;
    this.createBridgeAlone(net, net.isDefault);
    if (net.subnet !== before) this.store.saveNetwork(net);
    this.bridgesUp.add(net.bridge);
    this.allowDnatOut(net.bridge);
  }

  /** With DNAT on, a local client on 127.0.0.1 reaches containers of this bridge (port-dnat.ts). */
  private allowDnatOut(bridge: string): void {
    if (this.dnat !== undefined) this.quietly(() => PortDnat.allowLoopbackOut(bridge));
  }

  /**
   * Creates the bridge of `net`, then checks that no other daemon routed an overlapping subnet meanwhile: two
   * daemons planning at the same moment may pick the same free subnet (and then fight over its gateway address).
   * At least one of them sees the other's route; it removes its bridge and, when the subnet was `chosen` here
   * (not given by the user), plans again from a pool in random rotation; otherwise fails with SUBNET_OVERLAP.
   */
  private createBridgeAlone(net: NetworkRecord, chosen: boolean): void {
    for (let attempt = 1; ; attempt++) {
      const made = createBridge({ name: net.bridge, subnet: net.subnet, gateway: net.gateway, internal: net.internal });
      const hostRoutes = hostRouteSubnets(this.linkPrefix);
      try {
        planNetworkAddressing({ subnet: net.subnet }, { networks: [], hostRoutes });
        return;
      } catch (e) {
        if (made.created) this.quietly(() => deleteBridge(net.bridge));
        if (!chosen || attempt >= 5) throw e;
        this.log(`subnet ${net.subnet} of ${net.name} was taken meanwhile by another daemon; planning again`);
        const k = randomInt(DEFAULT_POOL.length);
        const pool = [...DEFAULT_POOL.slice(k), ...DEFAULT_POOL.slice(0, k)];
        const others = this.subnets().filter((x) => x.name !== net.name);
        const addr = planNetworkAddressing({}, { networks: others, hostRoutes, pool });
        net.subnet = addr.subnet;
        net.gateway = addr.gateway;
      }
    }
  }

  private ensureDns(net: NetworkRecord): Promise<DnsServer> {
    let p = this.dns.get(net.id);
    if (p === undefined) {
      const gateways = [...this.networks.values()].map((n) => n.gateway);
      // `tableFor` lets a container on several networks resolve the names of all of them (Docker's rule). It
      // takes effect once dns.ts consults it (a per-client table hook, proposed to its owner); until then each
      // network's server answers from that network's table only.
      const opts: DnsServerOptions & { tableFor: (client: string) => DnsTable } = {
        host: net.gateway, port: 53, table: this.table(net.id), allowFrom: net.subnet,
        upstreams: readHostResolvers(this.o.resolvConfPath ?? '/etc/resolv.conf', gateways),
        tableFor: (client) => this.tableFor(net.id, client),
      };
      p = startDnsServer(opts);
      this.dns.set(net.id, p);
      p.catch(() => {
        if (this.dns.get(net.id) === p) this.dns.delete(net.id);
      });
    }
    return p;
  }

  /** The names a client of `networkId`'s DNS may resolve: those of every network its container is on. */
  tableFor(networkId: string, client: string): DnsTable {
    const ip = client.replace(/^::ffff:/, '');
    const s = this.states.ownerOf(networkId, ip);
    if (s === undefined) return this.table(networkId);
    const ids = uniq(s.endpoints.map((ep) => ep.networkId)).filter((id) => this.networks.get(id)?.isDefault === false);
    return ids.length === 1 ? this.table(networkId) : new ScopedDnsTable(ids.map((id) => this.table(id)));
  }

  private async stopDns(networkId: string): Promise<void> {
    const p = this.dns.get(networkId);
    if (p === undefined) return;
    this.dns.delete(networkId);
    const server = await p.catch(() => undefined);
    await server?.close();
  }

  /** veth into the container's netns, address, route; DNS names registered. Synchronous up to the DNS start. */
  private plugIn(rec: ContainerView, netns: NetnsTarget, w: Wanted, ifName: string, defaultRoute: boolean, pooled?: PooledVeth): EndpointRecord {
    const net = w.net;
    // Sticky: the address this container had before, while it is free; a new one avoids those others want back.
    const preferred = w.ip === undefined ? this.addresses.preferred(rec.id, net.id) : undefined;
    const ip = allocateAddress(net.subnet, { gateway: net.gateway, inUse: this.inUse(net.id), requested: w.ip, after: this.lastIp.get(net.id),
      preferred, avoid: w.ip === undefined ? this.addresses.wantedByOthers(net.id, rec.id) : undefined });
    const { prefixLen } = parseSubnet(net.subnet, false);
    let att;
    if (pooled !== undefined && ifName === POOLED_IFNAME) {
      // made ahead, plugged into this bridge already: only its address, MAC and route
      const mac = macForAddress(ip);
      configurePooledVeth(netns, { ifName, mac, address: ip, prefixLen, gateway: defaultRoute ? net.gateway : undefined });
      att = { hostIfName: pooled.hostIfName, hostIfIndex: pooled.hostIfIndex, mac };
    } else {
      // A fresh name per plug: the previous veth of this container may still be waiting for the kernel to delete it.
      const hostIfName = vethIfName(this.linkPrefix, `${rec.id}:${randomBytes(4).toString('hex')}`, net.id);
      const spec = { bridge: net.bridge, netns, ifName, hostIfName, address: ip, prefixLen, gateway: net.gateway, defaultRoute };
      try {
        att = attachContainer(spec);
      } catch (e) {
        if (!isExists(e)) throw e;
        detachContainer(hostIfName); // a leftover of a start the daemon did not finish
        att = attachContainer(spec);
      }
    }
    this.joinBypass(net, { hostIfIndex: att.hostIfIndex, mac: att.mac });
    if (w.ip === undefined && ip !== preferred) this.lastIp.set(net.id, ip);
    const dnsNames = net.isDefault ? [] : uniq([rec.name, ...w.aliases, shortId(rec.id)]);
    for (const name of dnsNames) this.table(net.id).add(name, ip);
    return {
      networkId: net.id, endpointId: newId(), ip, prefixLen, gateway: net.gateway, mac: att.mac, aliases: [...w.aliases],
      dnsNames, hostIfName: att.hostIfName, ifName,
    };
  }

  renamed(containerId: string, oldName: string, newName: string): void {
    const state = this.states.get(containerId);
    if (state === undefined) return;
    for (const ep of state.endpoints) {
      if (!ep.dnsNames.includes(oldName)) continue;
      const t = this.table(ep.networkId);
      t.remove(oldName, ep.ip);
      t.add(newName, ep.ip);
      ep.dnsNames = uniq(ep.dnsNames.map((n) => (n === oldName ? newName : n)));
    }
    this.store.saveState(state);
  }

  /**
   * Forgets the endpoint's names and deletes its veth. `later`: the container is gone, so nothing waits on the link;
   * its deletion (~20 ms of kernel RCU wait) goes to the reaper thread instead of blocking the daemon.
   */
  private unplug(ep: EndpointRecord, later = false): void {
    this.forgetEndpoint(ep);
    if (later) this.reaper.delete(ep.hostIfName);
    else this.quietly(() => detachContainer(ep.hostIfName));
  }

  /** A force-removed container's endpoint: as `unplug(ep, true)`, its veth isolated first and deleted from the gate. */
  private async unplugRemoved(ep: EndpointRecord, gate: HeldTeardown): Promise<void> {
    this.forgetEndpoint(ep);
    await this.holdLink(ep.hostIfName, gate);
  }

  /** Its DNS names and its bypass entry go. */
  private forgetEndpoint(ep: EndpointRecord): void {
    const t = this.tables.get(ep.networkId);
    if (t !== undefined) for (const name of ep.dnsNames) t.remove(name, ep.ip);
    const bridge = this.networks.get(ep.networkId)?.bridge;
    if (bridge !== undefined && this.bypass !== undefined) this.quietly(() => this.bypass?.leave(bridge, ep.mac));
  }

  /**
   * A removed container's veth: its namespace may outlive the removal's answer (its shim holds it in the teardown
   * gate, or another process does), and its port on the bridge would answer for its address there, which the
   * next container may already have. Isolated on the bridge before the answer (on the reaper's thread, ~0.2 ms of
   * kernel CPU), deleted once the gate lets it go (~1 ms of kernel CPU under rtnl, which ran beside the removals
   * still answering). Not isolated (the kernel refused): deleted now instead, as before.
   */
  private async holdLink(name: string, gate: HeldTeardown): Promise<void> {
    let there: boolean;
    try {
      there = await this.reaper.isolate(name);
    } catch (e) {
      this.log(`isolate ${name} on its bridge: ${e instanceof Error ? e.message : String(e)}`);
      this.reaper.delete(name);
      return;
    }
    if (!there) return; // gone with its netns, or off the bridge (gone with it)
    this.heldLinks.add(name);
    gate.later(() => { if (this.heldLinks.delete(name)) this.reaper.delete(name); });
  }

  /** Held links' deletions queued now (network rm, shutdown); the gate's pieces for them then find nothing to do. */
  private releaseHeldLinks(): void {
    for (const name of this.heldLinks) this.reaper.delete(name);
    this.heldLinks.clear();
  }

  private bindings(rec: ContainerView): PortBinding[] {
    const out: PortBinding[] = (rec.host.portBindings as RecordBinding[]).map((b) => ({
      hostIp: b.hostIp, hostPort: b.hostPort, containerPort: b.containerPort, protocol: b.protocol,
      ...(b.hostPortEnd === undefined ? {} : { hostPortEnd: b.hostPortEnd }),
    }));
    if (rec.host.publishAllPorts) {
      for (const b of publishAllPorts(rec.config.exposedPorts)) {
        if (!out.some((x) => x.containerPort === b.containerPort && x.protocol === b.protocol)) out.push(b);
      }
    }
    return out;
  }

  /**
   * Before a start's spawn: the path of a namespace made ahead (netns-pool.ts) for the shim to join instead of
   * making one, or undefined. Only a container with a netns of its own and at most one network gets one; `attach`
   * then configures that namespace, `netnsDone` closes the daemon's fd once the start is settled.
   */
  netnsFor(containerId: string): string | undefined {
    if (this.pool === undefined) return undefined;
    this.pool.begin();
    const rec = this.o.containers.get(containerId);
    const mode = rec.host.networkMode;
    if (mode === 'host' || mode.startsWith('container:')) return undefined;
    let wanted: Wanted[];
    try { wanted = this.wanted(rec); } catch { return undefined; } // a network gone: the start reports it
    if (wanted.length > 1) return undefined;
    const net = wanted[0]?.net;
    if (net !== undefined && !this.bridgesUp.has(net.bridge)) return undefined; // its first start makes the bridge
    const ns = this.pool.take(net?.id ?? NONE, net?.bridge);
    if (ns === undefined) return undefined;
    this.pooled.set(containerId, ns);
    return ns.path;
  }

  /** The start is settled (the init is in the namespace, or it failed): the pool's fd of it is closed. */
  netnsDone(containerId: string): void {
    const ns = this.pooled.get(containerId);
    this.pooled.delete(containerId);
    if (ns !== undefined) this.pool?.release(ns);
    this.pool?.end();
  }

  /** Called between the shim's `ready` and `go`: plug the init's netns into its networks. */
  async attach(containerId: string, initPid: number): Promise<void> {
    if (this.states.has(containerId)) await this.detach(containerId);
    const rec = this.o.containers.get(containerId);
    const mode = rec.host.networkMode;
    // A pooled namespace is named by the pool's fd: at `ready` the init may not have joined it yet.
    const pooled = this.pooled.get(containerId);
    const netns = pooled === undefined ? initPid : `/proc/self/fd/${pooled.fd}`;
    // Its own netns (bridge networks, none): IPv6 off before any link of it is up (user --sysctl may turn it back
    // on). A pooled one was made so.
    if (mode !== 'host' && !mode.startsWith('container:') && pooled === undefined) disableIPv6InNetns(initPid);
    const wanted = this.wanted(rec);
    if (wanted.length === 0) return;
    const state: ContainerNetState = { containerId, pid: initPid, endpoints: [], ports: [] };
    this.states.set(state);
    try {
      let routed = false;
      for (const [i, w] of wanted.entries()) {
        this.ensureBridge(w.net);
        const defaultRoute: boolean = !routed && !w.net.internal;
        const veth = i === 0 && pooled?.veth?.bridge === w.net.bridge ? pooled.veth : undefined;
        this.states.addEndpoint(state, this.plugIn(rec, netns, w, `eth${i}`, defaultRoute, veth));
        routed ||= defaultRoute;
      }
      for (const w of wanted) if (!w.net.isDefault) await this.ensureDns(w.net);
      await this.publish(rec, state);
      this.writeEtcFiles(rec, state);
      this.store.saveState(state);
    } catch (e) {
      await this.detach(containerId);
      throw e;
    }
    this.checkNeighbourTable();
  }

  #neighbourWarned = false;
  #neighbourLimit: number | undefined;

  /**
   * The host keeps a neighbour (ARP) entry for each container it talks to over a bridge (DNS answers, published
   * ports, health checks); past `gc_thresh3` the kernel drops entries ("neighbour table overflow") and connections to
   * some containers fail. That setting is the host's, so it is named in the log once, never changed.
   */
  private checkNeighbourTable(): void {
    if (this.#neighbourWarned) return;
    this.#neighbourLimit ??= readNeighbourLimit();
    if (this.states.size <= this.#neighbourLimit) return;
    this.#neighbourWarned = true;
    this.log(`${this.states.size} containers are on bridge networks, more than the host's neighbour table keeps (net.ipv4.neigh.default.gc_thresh3 = ${this.#neighbourLimit}): the host may lose its connections to some of them; raise net.ipv4.neigh.default.gc_thresh1/2/3 (README, "Many containers")`);
  }

  private async publish(rec: ContainerView, state: ContainerNetState): Promise<void> {
    const target = state.endpoints[0];
    // a start-first replacement leaves the host ports its predecessor holds to it until the hand-over
    const from = this.handovers.get(rec.id);
    if (from !== undefined && !this.states.has(from)) this.handovers.delete(rec.id); // the old one is gone: nothing held
    const held = from === undefined ? [] : this.proxies.get(from) ?? [];
    const bindings = this.bindings(rec).filter((b) => !held.some((p) => sameHostPort(p, b)));
    if (target === undefined || bindings.length === 0) return;
    const started = this.fast(await startPortProxies(bindings, target.ip, { controlDir: this.portControlDir }));
    this.proxies.set(state.containerId, started);
    state.ports = started.map((p): PublishedPort => ({ hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol }));
  }

  expectHandover(toId: string, fromId: string): void {
    this.handovers.set(toId, fromId);
  }

  async handOver(fromId: string, toId: string, drainMs: number): Promise<void> {
    this.handovers.delete(toId);
    const to = this.states.get(toId);
    const toIp = to?.endpoints[0]?.ip;
    const rec = this.o.containers.get(toId);
    const from = this.states.get(fromId);
    const moved: PortProxy[] = [];
    if (to !== undefined && toIp !== undefined) {
      const wanted = this.bindings(rec);
      const kept: PortProxy[] = [];
      for (const p of this.proxies.get(fromId) ?? []) {
        if (wanted.some((b) => sameHostPort(p, b) && b.containerPort === p.containerPort)) moved.push(p); else kept.push(p);
      }
      const oldIps = new Set(from?.endpoints.map((ep) => ep.ip) ?? []);
      await Promise.all(moved.map((p) => p.retarget(toIp)));
      this.proxies.set(fromId, kept);
      this.proxies.set(toId, [...(this.proxies.get(toId) ?? []), ...moved]);
      to.ports = [...to.ports, ...moved.map((p): PublishedPort => ({ hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol }))];
      this.store.saveState(to);
      if (from !== undefined) {
        from.ports = from.ports.filter((x) => !moved.some((p) => p.hostPort === x.hostPort && p.protocol === x.protocol && p.hostIp === x.hostIp));
        // its names leave DNS now: lookups find only the new container
        for (const ep of from.endpoints) {
          const t = this.tables.get(ep.networkId);
          if (t !== undefined) for (const name of ep.dnsNames) t.remove(name, ep.ip);
          ep.dnsNames = [];
        }
        this.store.saveState(from);
      }
      const deadline = Date.now() + drainMs;
      const open = async (): Promise<number> => {
        const counts = await Promise.all(moved.flatMap((p) => [...oldIps].map((ip) => p.activeTo(ip))));
        return counts.reduce((n, c) => n + c, 0);
      };
      while (await open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** After exit, on failed start and on remove: veths, addresses, DNS names, published ports. Idempotent. */
  async detach(containerId: string, opts: { removal?: boolean } = {}): Promise<Record<string, string>> {
    this.pool?.poke(); // an exit: the pool's refill waits for the removal's answers
    const proxies = this.proxies.get(containerId);
    this.proxies.delete(containerId);
    const state = this.states.get(containerId);
    this.states.delete(containerId);
    if (proxies !== undefined) await Promise.all(proxies.map((p) => p.close()));
    if (state === undefined) {
      const departed = this.departed.get(containerId) ?? {};
      this.departed.delete(containerId);
      this.addresses.remember(containerId, departed);
      return departed;
    }
    const left = addressesOf(state);
    this.addresses.remember(containerId, left);
    const gate = opts.removal === true ? this.o.teardown : undefined;
    if (gate === undefined) for (const ep of state.endpoints) this.unplug(ep, true);
    else await Promise.all(state.endpoints.map((ep) => this.unplugRemoved(ep, gate)));
    // A removal's endpoint file is unlinked on the thread pool: with other endpoint files being fsynced in the same
    // directory, a synchronous unlink waited ~1 ms for the directory block's write (a quarter of the main thread's
    // time in an rm -f of 400 on a bridge). Its id never comes back, and one left by a daemon killed meanwhile is
    // deleted at the next start (a state of no running container).
    if (opts.removal === true) this.store.deleteStateLater(containerId);
    else this.store.deleteState(containerId);
    for (const id of uniq(state.endpoints.map((ep) => ep.networkId))) {
      if (!this.states.hasEndpointsOn(id)) await this.stopDns(id);
    }
    return left;
  }

  /** /etc/hosts (own addresses, --add-host) and /etc/resolv.conf (our DNS on user networks), written in place. */
  private writeEtcFiles(rec: ContainerView, state: ContainerNetState): void {
    const gateway = state.endpoints[0]?.gateway;
    const extra = rec.host.extraHosts.map((h) => parseAddHost(h, gateway));
    const hosts = renderHosts({ hostname: rec.config.hostname, own: state.endpoints.map((ep) => ({ ip: ep.ip, names: [] })), extra });
    let hostText = '';
    try {
      hostText = readFileSync(this.o.resolvConfPath ?? '/etc/resolv.conf', 'utf8');
    } catch {
      // no resolv.conf on the host
    }
    const dnsEp = state.endpoints.find((ep) => this.networks.get(ep.networkId)?.isDefault === false);
    const resolv = containerResolvConf({ host: parseResolvConf(hostText), embeddedDns: dnsEp?.gateway, dns: rec.host.dns, dnsSearch: rec.host.dnsSearch });
    this.o.containers.writeNetworkFiles(rec.id, { hosts, resolvConf: renderResolvConf(resolv) });
  }

  // ---- connect / disconnect ------------------------------------------------------------------------------------

  private bridgeNetworkOrFail(ref: string, verb: string): NetworkRecord {
    const v = this.view(ref);
    if (v.record === undefined) {
      throw new GantryError('INVALID_ARGUMENT', `a container cannot be ${verb} the ${v.name} network`, { hint: `use --network ${v.name} when creating the container` });
    }
    return v.record;
  }

  /** `network connect`: records the network on the container and, when it runs, plugs it in now. */
  async connect(netRef: string, containerRef: string, req: EndpointRequest = {}): Promise<void> {
    const net = this.bridgeNetworkOrFail(netRef, 'connected to');
    const rec = this.o.containers.get(containerRef);
    const mode = rec.host.networkMode;
    if (mode === 'host' || mode.startsWith('container:')) {
      throw new GantryError('INVALID_ARGUMENT', `container ${rec.name} uses network mode ${mode} and cannot join other networks`);
    }
    if (this.wanted(rec).some((w) => w.net.id === net.id)) {
      throw new GantryError('CONFLICT', `container ${rec.name} is already connected to network ${net.name}`);
    }
    const aliases = req.aliases ?? [];
    const ip = req.ipv4Address || undefined;
    this.checkEndpoint(net, { aliases, ipv4Address: ip });
    const running = isActive(rec.state.status) && rec.state.status !== 'restarting' && rec.state.pid > 0;
    if (running) {
      this.ensureBridge(net);
      const state = this.states.get(rec.id) ?? { containerId: rec.id, pid: rec.state.pid, endpoints: [], ports: [] };
      const used = new Set(state.endpoints.map((ep) => ep.ifName));
      let n = 0;
      while (used.has(`eth${n}`)) n++;
      const routed = state.endpoints.some((ep) => !this.networks.get(ep.networkId)?.internal);
      const ep = this.plugIn(rec, state.pid, { net, aliases, ip }, `eth${n}`, !routed && !net.internal);
      if (!this.states.has(rec.id)) this.states.set(state);
      this.states.addEndpoint(state, ep);
      try {
        if (!net.isDefault) await this.ensureDns(net);
        this.writeEtcFiles(rec, state);
        this.store.saveState(state);
      } catch (e) {
        this.states.removeEndpoint(state, ep);
        this.unplug(ep);
        this.store.saveState(state);
        throw e;
      }
    }
    this.o.containers.setNetworks(rec.id, mode === 'none' ? net.name : mode, [...rec.host.networks.map(copyAttachment), { network: net.name, aliases: [...aliases], ipv4Address: ip }]);
    this.o.events?.emit('network', 'connect', net.id, { name: net.name, type: 'bridge', container: rec.id });
  }

  /** `network disconnect`: unplugs a running container now and forgets the network in its record. */
  async disconnect(netRef: string, containerRef: string): Promise<void> {
    const net = this.bridgeNetworkOrFail(netRef, 'disconnected from');
    const rec = this.o.containers.get(containerRef);
    const state = this.states.get(rec.id);
    const ep = state?.endpoints.find((x) => x.networkId === net.id);
    const configured = this.wanted(rec).some((w) => w.net.id === net.id);
    if (!configured && ep === undefined) {
      throw new GantryError('CONFLICT', `container ${rec.name} is not connected to network ${net.name}`);
    }
    if (state !== undefined && ep !== undefined) {
      this.states.removeEndpoint(state, ep);
      this.unplug(ep);
      if (state.endpoints[0]?.ip !== undefined && this.proxies.has(rec.id) && this.proxies.get(rec.id)?.[0]?.target.ip === ep.ip) {
        await this.republish(state, state.endpoints[0].ip);
      }
      if (state.endpoints.length === 0) {
        await Promise.all((this.proxies.get(rec.id) ?? []).map((p) => p.close()));
        this.proxies.delete(rec.id);
        state.ports = [];
      }
      this.writeEtcFiles(rec, state);
      this.store.saveState(state);
      if (this.endpointsOn(net.id).length === 0) await this.stopDns(net.id);
    }
    this.addresses.forget(rec.id, net.id);
    const networks = rec.host.networks.filter((n) => this.findNetwork(n.network)?.id !== net.id).map(copyAttachment);
    this.o.containers.setNetworks(rec.id, this.findNetwork(rec.host.networkMode)?.id === net.id ? networks[0]?.network ?? 'none' : rec.host.networkMode, networks);
    this.o.events?.emit('network', 'disconnect', net.id, { name: net.name, type: 'bridge', container: rec.id });
  }

  /** Published ports follow the container to its remaining first address (same host ports). */
  private async republish(state: ContainerNetState, ip: string): Promise<void> {
    await Promise.all((this.proxies.get(state.containerId) ?? []).map((p) => p.close()));
    this.proxies.delete(state.containerId);
    try {
      this.proxies.set(state.containerId, this.fast(await startPortProxies(state.ports, ip, { controlDir: this.portControlDir })));
    } catch (e) {
      this.log(`cannot re-publish ports of ${shortId(state.containerId)}: ${e instanceof Error ? e.message : String(e)}`);
      state.ports = [];
    }
  }

  // ---- what inspect shows ----------------------------------------------------------------------------------------

  /** Bridge networks with their labels (the stack service owns by label). */
  summaries(): Array<{ id: string; name: string; labels: Readonly<Record<string, string>> }> {
    return [...this.networks.values()].map((n) => ({ id: n.id, name: n.name, labels: n.labels }));
  }

  /** Published ports of a running container, as bound. */
  publishedPorts(containerId: string): PublishedPort[] {
    return [...(this.states.get(containerId)?.ports ?? [])];
  }

  /** NetworkSettings of a container in Docker's shape. */
  networkSettings(rec: ContainerView): ReturnType<typeof containerNetworkSettings> {
    const state = this.states.get(rec.id);
    const networks: Parameters<typeof containerNetworkSettings>[0] = {};
    const mode = rec.host.networkMode;
    let defaultEp: EndpointRecord | undefined;
    if (mode === 'host' || mode === 'none') {
      networks[mode] = networkEntry(pseudoId(this.o.prefix, mode), [], undefined, undefined);
    } else if (!mode.startsWith('container:')) {
      const refs = uniq([mode, ...rec.host.networks.map((n) => n.network)]);
      for (const ref of refs) {
        const net = this.findNetwork(ref);
        if (net === undefined) continue;
        const cfg = rec.host.networks.find((n) => this.findNetwork(n.network)?.id === net.id);
        const ep = state?.endpoints.find((e) => e.networkId === net.id);
        if (net.isDefault) defaultEp = ep;
        networks[net.name] = networkEntry(net.id, [...cfg?.aliases ?? []], cfg?.ipv4Address || undefined, ep);
      }
    }
    return containerNetworkSettings(networks, state, rec.config.exposedPorts, defaultEp);
  }
}

function copyAttachment(n: { readonly network: string; readonly aliases: readonly string[]; readonly ipv4Address?: string | undefined }): NetworkAttachment {
  return { network: n.network, aliases: [...n.aliases], ipv4Address: n.ipv4Address };
}

/**
 * Docker's `enable_icc=false` asks for containers of the network not to talk to each other. Gantry does not enforce
 * it on the bridge (yet), but the bypass must never be what connects them.
 */
function bypassAllowed(net: NetworkRecord): boolean {
  return net.options['com.docker.network.bridge.enable_icc'] !== 'false';
}

/** Network id → address of a container's endpoints. */
function addressesOf(state: ContainerNetState): Record<string, string> {
  return Object.fromEntries(state.endpoints.map((ep) => [ep.networkId, ep.ip]));
}

/** A proxy listening where the binding asks (a fixed host port; random ones never clash). */
function sameHostPort(p: PortProxy, b: PortBinding): boolean {
  if (b.hostPort === 0 || p.protocol !== b.protocol || p.hostIp !== b.hostIp) return false;
  return b.hostPortEnd === undefined ? p.hostPort === b.hostPort : p.hostPort >= b.hostPort && p.hostPort <= b.hostPortEnd;
}

/** The host's neighbour table size limit (gc_thresh3; 1024, the kernel's default, when unreadable). */
function readNeighbourLimit(): number {
  try {
    const n = Number(readFileSync('/proc/sys/net/ipv4/neigh/default/gc_thresh3', 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : 1024;
  } catch {
    return 1024;
  }
}
