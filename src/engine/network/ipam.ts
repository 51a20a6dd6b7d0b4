// IPv4 address management, pure: subnet parsing and validation, overlap checks, the default subnet pool,
// and address allocation from a subnet given the set of live addresses. No I/O: callers pass what exists.
import { GantryError } from '../../common/errors.js';

export interface Subnet {
  /** Network address as an unsigned 32-bit number. */
  network: number;
  prefixLen: number;
}

/** Docker's default pools: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/20 … 192.168.240.0/20. */
export const DEFAULT_POOL: readonly string[] = [
  ...Array.from({ length: 15 }, (_, i) => `172.${17 + i}.0.0/16`),
  ...Array.from({ length: 16 }, (_, i) => `192.168.${i * 16}.0/20`),
];

/** Dotted quad → number, or undefined when malformed. */
export function parseIPv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

function invalid(message: string, hint?: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', message, { hint });
}

/** Parse an IPv4 address; INVALID_ARGUMENT naming `what` when malformed. */
export function requireIPv4(s: string, what = 'address'): number {
  const n = parseIPv4(s);
  if (n === undefined) throw invalid(`invalid ${what} "${s}": not an IPv4 address`, 'write it as four numbers 0-255, e.g. 172.20.0.5');
  return n;
}

/**
 * Parse "A.B.C.D/N" (a single address means /32). With `strict`, host bits must be zero and N must leave room
 * for a gateway and at least one container (8 ≤ N ≤ 30).
 */
export function parseSubnet(cidr: string, strict = true): Subnet {
  const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(cidr.trim());
  const ip = m?.[1] === undefined ? undefined : parseIPv4(m[1]);
  const prefixLen = m?.[2] === undefined ? 32 : Number(m[2]);
  if (m === null || ip === undefined || prefixLen > 32) {
    throw invalid(`invalid subnet "${cidr}"`, 'write it in CIDR form, e.g. 172.20.0.0/16');
  }
  const network = (ip & maskOf(prefixLen)) >>> 0;
  if (strict) {
    if (m[2] === undefined) throw invalid(`invalid subnet "${cidr}": missing prefix length`, `e.g. ${cidr}/24`);
    if (network !== ip) {
      throw invalid(`invalid subnet "${cidr}": host bits are set`, `did you mean ${formatIPv4(network)}/${prefixLen}?`);
    }
    if (prefixLen < 8 || prefixLen > 30) throw invalid(`invalid subnet "${cidr}": prefix length must be between 8 and 30`);
  }
  return { network, prefixLen };
}

export function formatSubnet(s: Subnet): string {
  return `${formatIPv4(s.network)}/${s.prefixLen}`;
}

export function broadcastOf(s: Subnet): number {
  return (s.network | ~maskOf(s.prefixLen)) >>> 0;
}

export function subnetContains(s: Subnet, ip: number): boolean {
  return ((ip & maskOf(s.prefixLen)) >>> 0) === s.network;
}

export function subnetsOverlap(a: Subnet, b: Subnet): boolean {
  const len = Math.min(a.prefixLen, b.prefixLen);
  const m = maskOf(len);
  return ((a.network & m) >>> 0) === ((b.network & m) >>> 0);
}

/** The conventional gateway: the first host address (.1). */
export function defaultGateway(subnet: Subnet): string {
  return formatIPv4(subnet.network + 1);
}

/** A network that already holds a subnet (for overlap messages). */
export interface ExistingNetwork {
  name: string;
  subnet: string;
}

export interface SubnetContext {
  /** Subnets of the daemon's own networks. */
  networks: readonly ExistingNetwork[];
  /** Destinations of routes on the host (CIDR), excluding our own bridges; the default route is ignored. */
  hostRoutes: readonly string[];
  /** Where default subnets come from; DEFAULT_POOL when absent. */
  pool?: readonly string[];
}

export interface NetworkAddressing {
  subnet: string;
  prefixLen: number;
  gateway: string;
}

function conflictWith(s: Subnet, ctx: SubnetContext): string | undefined {
  for (const n of ctx.networks) {
    if (subnetsOverlap(s, parseSubnet(n.subnet, false))) return `network "${n.name}" (${n.subnet})`;
  }
  for (const r of ctx.hostRoutes) {
    const route = parseSubnet(r, false);
    if (route.prefixLen === 0) continue;
    if (subnetsOverlap(s, route)) return `host route ${formatSubnet(route)}`;
  }
  return undefined;
}

/**
 * Decide a new network's subnet and gateway. With no subnet, take the first pool entry free of existing
 * networks and host routes. Errors: INVALID_ARGUMENT (malformed, gateway outside), SUBNET_OVERLAP.
 */
export function planNetworkAddressing(req: { subnet?: string | undefined; gateway?: string | undefined }, ctx: SubnetContext): NetworkAddressing {
  let subnet: Subnet;
  if (req.subnet !== undefined) {
    subnet = parseSubnet(req.subnet);
    const clash = conflictWith(subnet, ctx);
    if (clash !== undefined) {
      throw new GantryError('SUBNET_OVERLAP', `subnet ${formatSubnet(subnet)} overlaps ${clash}`, {
        hint: 'choose a subnet that no other network or host route uses, or omit --subnet to get a free one',
        detail: { subnet: formatSubnet(subnet) },
      });
    }
  } else {
    if (req.gateway !== undefined) throw invalid('--gateway needs --subnet', 'give the subnet the gateway belongs to');
    const free = (ctx.pool ?? DEFAULT_POOL).map((p) => parseSubnet(p)).find((s) => conflictWith(s, ctx) === undefined);
    if (free === undefined) {
      throw new GantryError('SUBNET_OVERLAP', 'no free subnet left in the default address pool', {
        hint: 'remove unused networks (gantry network rm) or give --subnet',
      });
    }
    subnet = free;
  }
  let gateway = defaultGateway(subnet);
  if (req.gateway !== undefined) {
    const g = requireIPv4(req.gateway, 'gateway');
    checkHostAddress(subnet, g, 'gateway');
    gateway = formatIPv4(g);
  }
  return { subnet: formatSubnet(subnet), prefixLen: subnet.prefixLen, gateway };
}

function checkHostAddress(subnet: Subnet, ip: number, what: string): void {
  const text = formatIPv4(ip);
  if (!subnetContains(subnet, ip)) {
    throw invalid(`${what} ${text} is outside the subnet ${formatSubnet(subnet)}`, `pick an address inside ${formatSubnet(subnet)}`);
  }
  if (ip === subnet.network || ip === broadcastOf(subnet)) {
    throw invalid(`${what} ${text} is the ${ip === subnet.network ? 'network' : 'broadcast'} address of ${formatSubnet(subnet)}`);
  }
}

export interface AllocateOptions {
  /** The network's gateway (never handed out). */
  gateway: string;
  /** Addresses held by live containers. */
  inUse: Iterable<string>;
  /** A specific address (--ip). */
  requested?: string | undefined;
  /** Start searching after this address (the last one handed out), so a freed one is not reused at once. */
  after?: string | undefined;
  /** The address this container had on the network before (a restart): handed out again while it is free. */
  preferred?: string | undefined;
  /** Free addresses other stopped containers would like back: skipped while any other address is free. */
  avoid?: Iterable<string> | undefined;
}

/**
 * An address for a container from `subnetCidr`. Never returns the network, broadcast or gateway address or
 * one in `inUse`. Errors: INVALID_ARGUMENT (outside the subnet), ADDRESS_IN_USE (taken, or none left).
 */
export function allocateAddress(subnetCidr: string, opts: AllocateOptions): string {
  const subnet = parseSubnet(subnetCidr, false);
  const taken = new Set<number>();
  for (const a of opts.inUse) {
    const n = parseIPv4(a);
    if (n !== undefined) taken.add(n);
  }
  const gw = requireIPv4(opts.gateway, 'gateway');
  taken.add(gw);
  if (opts.requested !== undefined) {
    const ip = requireIPv4(opts.requested, 'IP address');
    checkHostAddress(subnet, ip, 'address');
    if (taken.has(ip)) {
      throw new GantryError('ADDRESS_IN_USE', `address ${formatIPv4(ip)} is already in use on ${formatSubnet(subnet)}${ip === gw ? ' (it is the gateway)' : ''}`, {
        hint: 'pick another --ip or leave it out to get a free one',
        detail: { address: formatIPv4(ip) },
      });
    }
    return formatIPv4(ip);
  }
  const first = subnet.network + 1;
  const last = broadcastOf(subnet) - 1;
  const preferred = opts.preferred === undefined ? undefined : parseIPv4(opts.preferred);
  if (preferred !== undefined && preferred >= first && preferred <= last && !taken.has(preferred)) return formatIPv4(preferred);
  const size = last - first + 1;
  const afterN = opts.after === undefined ? undefined : parseIPv4(opts.after);
  const start = afterN !== undefined && afterN >= first && afterN < last ? afterN + 1 : first;
  const avoid = new Set<number>();
  for (const a of opts.avoid ?? []) {
    const n = parseIPv4(a);
    if (n !== undefined) avoid.add(n);
  }
  for (const skip of avoid.size > 0 ? [avoid, undefined] : [undefined]) {
    for (let i = 0; i < size; i++) {
      const ip = first + ((start - first + i) % size);
      if (!taken.has(ip) && !skip?.has(ip)) return formatIPv4(ip);
    }
  }
  throw new GantryError('ADDRESS_IN_USE', `no free address left in ${formatSubnet(subnet)}`, {
    hint: 'remove containers from the network or create a network with a larger subnet',
  });
}

/** A locally administered MAC derived from the IPv4 address (02:42:a:b:c:d), stable for ARP caches. */
export function macForAddress(address: string): string {
  const n = requireIPv4(address);
  return ['02', '42', ...[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
