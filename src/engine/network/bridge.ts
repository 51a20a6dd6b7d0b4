// Kernel side of networks: bridges and the veth pairs that attach containers to them, over netlink
// (src/sys/netlink.ts). No `ip` processes. Every operation is synchronous (a few syscalls) and leaves nothing
// half-made: a failure after a link was created deletes that link before the error is thrown.
//
// Isolation without touching the host firewall: every bridge gets IPv4 forwarding switched off on its own
// interface (/proc/sys/net/ipv4/conf/<bridge>/forwarding = 0; never the global ip_forward), so packets from
// containers are never routed off their bridge — not to other networks, not outside. Containers still reach
// the host itself (gateway address: DNS, published ports) and each other on the same bridge. We add no NAT.
// Internal networks (--internal) additionally give containers no default route at all.
// IPv6 is off on every link we make (ipv6-off.ts): no link-local addresses, no router advertisements accepted.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { GantryError, errnoCode } from '../../common/errors.js';
import { SyscallError, sysClose } from '../../sys/ffi.js';
import { Rtnl, withRtnl, type LinkInfo } from '../../sys/netlink.js';
import { openNetns, type NetnsTarget } from '../../sys/netns.js';
import { disableIPv6OnLink } from './ipv6-off.js';
import { formatIPv4, macForAddress, maskOf, parseIPv4, parseSubnet } from './ipam.js';

export type { LinkInfo } from '../../sys/netlink.js';
export type { NetnsTarget } from '../../sys/netns.js';

/** Linux interface names hold at most 15 characters. */
export const MAX_IFNAME = 15;
const EEXIST = 17;
const ENODEV = 19;
const EOPNOTSUPP = 95;
/** Transmit and receive queues of each end of a container's veth (attachContainer). */
export const VETH_QUEUES = 1;

export function checkIfName(name: string): string {
  if (name.length === 0 || name.length > MAX_IFNAME || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new GantryError('INVALID_ARGUMENT', `invalid interface name "${name}": use 1-${MAX_IFNAME} characters of [A-Za-z0-9_.-]`);
  }
  return name;
}

const hex = (key: string, n: number): string => createHash('sha256').update(key).digest('hex').slice(0, n);

/** Bridge name for a network: `<prefix>br-<6 hex>` (prefix ≤ 6 characters). */
export function bridgeIfName(prefix: string, networkId: string): string {
  const id = /^[0-9a-f]{6,}$/.test(networkId) ? networkId.slice(0, 6) : hex(networkId, 6);
  return checkIfName(`${prefix}br-${id}`);
}

/** Host-side veth name for one (container, network) pair: `<prefix>v<8 hex>` (prefix ≤ 6 characters). */
export function vethIfName(prefix: string, containerId: string, networkId = ''): string {
  return checkIfName(`${prefix}v${hex(`${containerId}/${networkId}`, 8)}`);
}

function setForwarding(ifName: string, on: boolean): void {
  const path = `/proc/sys/net/ipv4/conf/${ifName}/forwarding`;
  try {
    writeFileSync(path, on ? '1' : '0');
  } catch (e) {
    // Without a writable /proc/sys, isolation still holds when the host does not forward at all.
    let global = '1';
    try {
      global = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    } catch {
      // keep '1': assume the worst
    }
    if (global !== '0') {
      throw new GantryError('SYSCALL_FAILED', `write \`${path}\`: ${errnoCode(e) ?? String(e)}`, {
        cause: e, hint: 'the network cannot be isolated without a writable /proc/sys/net',
      });
    }
  }
}

export interface BridgeSpec {
  name: string;
  /** CIDR, e.g. 172.18.0.0/16. */
  subnet: string;
  /** Address the bridge takes (the containers' gateway). */
  gateway: string;
  internal?: boolean;
  mtu?: number;
}

export interface BridgeInfo {
  name: string;
  index: number;
  gateway: string;
  prefixLen: number;
  /** false when the bridge already existed and was adopted. */
  created: boolean;
}

/**
 * Create (or adopt, when a bridge of that name exists) the bridge, give it the gateway address, cut
 * forwarding on it, and bring it up. Idempotent.
 */
export function createBridge(spec: BridgeSpec): BridgeInfo {
  checkIfName(spec.name);
  const { prefixLen } = parseSubnet(spec.subnet, false);
  return withRtnl((nl) => {
    let created = false;
    const existing = nl.getLink(spec.name);
    if (existing !== undefined && existing.kind !== 'bridge') {
      throw new GantryError('CONFLICT', `interface ${spec.name} exists and is not a bridge`, {
        hint: 'remove it or use another name prefix',
      });
    }
    if (existing === undefined) {
      nl.createBridge(spec.name, spec.mtu === undefined ? {} : { mtu: spec.mtu });
      created = true;
    }
    try {
      const index = nl.linkIndex(spec.name);
      const has = nl.listAddresses4().some((a) => a.index === index && a.local === spec.gateway && a.prefixLen === prefixLen);
      if (!has) nl.addAddress4(index, spec.gateway, prefixLen);
      setForwarding(spec.name, false);
      disableIPv6OnLink(spec.name); // before it is up: no link-local address, no router advertisements taken
      nl.setUp(index, true);
      return { name: spec.name, index, gateway: spec.gateway, prefixLen, created };
    } catch (e) {
      if (created) nl.deleteLinkByName(spec.name);
      throw e;
    }
  });
}

/** Delete the bridge (its veths are released, not deleted). Returns whether it existed. */
export function deleteBridge(name: string): boolean {
  return withRtnl((nl) => nl.deleteLinkByName(name));
}

export interface AttachSpec {
  /** Bridge to plug the host end into. */
  bridge: string;
  /** The container's network namespace: its init pid or a netns path. */
  netns: NetnsTarget;
  /** Name inside the container: eth0, eth1… */
  ifName: string;
  /** Host end name (vethIfName()). */
  hostIfName: string;
  address: string;
  prefixLen: number;
  /** Gateway for the default route. */
  gateway?: string | undefined;
  /** Add the default route via gateway (false on internal networks and for secondary networks). */
  defaultRoute: boolean;
  mtu?: number;
  /** Container-side MAC; default derived from the address (02:42:…). */
  mac?: string;
}

export interface Attachment {
  hostIfName: string;
  hostIfIndex: number;
  ifName: string;
  /** Index of the container end inside its netns. */
  ifIndex: number;
  mac: string;
}

/**
 * Plug a container into a bridge: a veth pair whose peer is created directly inside the container's netns
 * as `ifName`, with its address, loopback up, and (optionally) the default route. On failure the pair is
 * deleted.
 */
export function attachContainer(spec: AttachSpec): Attachment {
  checkIfName(spec.hostIfName);
  checkIfName(spec.ifName);
  const mac = spec.mac ?? macForAddress(spec.address);
  const nsFd = openNetns(spec.netns);
  const nl = Rtnl.open();
  try {
    const bridgeIndex = nl.linkIndex(spec.bridge);
    // One queue each end: the kernel's default is one per possible CPU, each a sysfs directory, a `veth_rq` and a
    // qdisc per device (~2 kB per queue and end here, more on hosts with many CPUs), used only with XDP or GRO on.
    nl.createVeth(spec.hostIfName, spec.ifName, {
      peerNetns: { fd: nsFd }, peerMac: mac, queues: VETH_QUEUES, ...(spec.mtu === undefined ? {} : { mtu: spec.mtu }),
    });
    try {
      const hostIfIndex = nl.linkIndex(spec.hostIfName);
      nl.setMaster(hostIfIndex, bridgeIndex);
      disableIPv6OnLink(spec.hostIfName);
      nl.setUp(hostIfIndex, true);
      const ifIndex = withRtnl((inner) => {
        const idx = inner.linkIndex(spec.ifName);
        inner.addAddress4(idx, spec.address, spec.prefixLen);
        inner.setUp(inner.linkIndex('lo'), true);
        inner.setUp(idx, true);
        if (spec.defaultRoute && spec.gateway !== undefined) inner.addDefaultRoute4(spec.gateway, idx);
        return idx;
      }, `/proc/self/fd/${nsFd}`);
      return { hostIfName: spec.hostIfName, hostIfIndex, ifName: spec.ifName, ifIndex, mac };
    } catch (e) {
      nl.deleteLinkByName(spec.hostIfName);
      throw e;
    }
  } finally {
    nl.close();
    sysClose(nsFd);
  }
}

/** Remove a container's veth pair by its host end. Returns whether it existed (a dead netns takes it along). */
export function detachContainer(hostIfName: string): boolean {
  return withRtnl((nl) => nl.deleteLinkByName(hostIfName));
}

/**
 * A removed container's veth made harmless before it is deleted (later, off the removal's path): its bridge port
 * isolated (Rtnl.isolateBridgePort), so its namespace, which may live on a moment, gets no frame from the bridge and
 * so answers nothing for its address (ARP, ping), which can be given again at once. Returns whether the link was
 * there and on a bridge (a dead netns takes the pair along).
 */
export function isolatePort(hostIfName: string): boolean {
  return withRtnl((nl) => {
    const index = nl.indexOf(hostIfName);
    if (index === undefined) return false;
    try {
      nl.isolateBridgePort(index);
    } catch (e) {
      if (e instanceof SyscallError && (e.errno === ENODEV || e.errno === EOPNOTSUPP)) return false; // gone, or off its bridge (with it)
      throw e;
    }
    return true;
  });
}

/** Bring loopback up in a netns (for --network none, where no veth is attached). */
export function bringUpLoopback(netns: NetnsTarget): void {
  withRtnl((nl) => nl.setUp(nl.linkIndex('lo'), true), netns);
}

/** The host's link called `name`, or undefined (one request). */
export function findLink(name: string): LinkInfo | undefined {
  return withRtnl((nl) => nl.getLink(name));
}

/** Whether the host has a link called `name` (one request). */
export function linkExists(name: string): boolean {
  return findLink(name) !== undefined;
}

/** Links of the host whose names start with `prefix` (bridges and veth host ends). */
export function listLinks(prefix: string): LinkInfo[] {
  return withRtnl((nl) => nl.listLinks()).filter((l) => l.name.startsWith(prefix));
}

/**
 * Remove links with `prefix` whose names are not in `keep` (objects of networks and containers that are
 * gone after a daemon restart). Veths go first, then bridges. Returns the names removed.
 */
export function removeStaleLinks(prefix: string, keep: ReadonlySet<string>): string[] {
  // what an interrupted dump missed, the next sweep takes: only the links it saw are acted on
  const stale = withRtnl((nl) => nl.listLinks({ partialDump: true })).filter((l) => l.name.startsWith(prefix) && !keep.has(l.name));
  stale.sort((a, b) => Number(a.kind === 'bridge') - Number(b.kind === 'bridge'));
  const removed: string[] = [];
  withRtnl((nl) => {
    for (const l of stale) if (nl.deleteLinkByName(l.name)) removed.push(l.name);
  });
  return removed;
}

/**
 * Destinations (CIDR) of the host's IPv4 routes in the main table, without the default route and without
 * routes through links named with `excludePrefix` (our own bridges). Feed to ipam's hostRoutes.
 */
export function hostRouteSubnets(excludePrefix?: string): string[] {
  return withRtnl((nl) => {
    // the routes' links looked up one by one: a dump of every link (thousands with many containers) is slow, and
    // interrupted whenever a link comes or goes meanwhile
    const names = new Map<number, string | undefined>();
    const nameOf = (index: number): string | undefined => {
      if (!names.has(index)) names.set(index, nl.getLinkByIndex(index)?.name);
      return names.get(index);
    };
    const out = new Set<string>();
    for (const r of nl.listRoutes4()) {
      if (r.dstLen === 0) continue;
      const dev = r.oif === undefined ? undefined : nameOf(r.oif);
      if (excludePrefix !== undefined && dev?.startsWith(excludePrefix)) continue;
      const n = parseIPv4(r.dst);
      if (n === undefined) continue;
      out.add(`${formatIPv4((n & maskOf(r.dstLen)) >>> 0)}/${r.dstLen}`);
    }
    return [...out];
  });
}

/** True when the error is the kernel saying the object exists (EEXIST). */
export function isExists(e: unknown): boolean {
  return e instanceof SyscallError && e.errno === EEXIST;
}
