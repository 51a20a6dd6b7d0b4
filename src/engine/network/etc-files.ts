// Contents of the container's /etc/hosts, /etc/hostname and /etc/resolv.conf, pure. The daemon writes them
// (atomically) under containers/<id>/ and bind-mounts them; --add-host and --dns feed in here.
import { isIPv4, isIPv6 } from 'node:net';
import { usageError } from '../../common/errors.js';

export interface HostEntry {
  ip: string;
  names: string[];
}

/** --add-host NAME:IP (or NAME=IP). IP may be "host-gateway", replaced by `hostGateway` when given. */
export function parseAddHost(spec: string, hostGateway?: string): HostEntry {
  const sep = /^[^:=]+[:=]/.exec(spec);
  const name = sep === null ? '' : spec.slice(0, sep[0].length - 1).trim();
  let ip = sep === null ? '' : spec.slice(sep[0].length).trim().replace(/^\[(.*)\]$/, '$1');
  if (ip === 'host-gateway' && hostGateway !== undefined) ip = hostGateway;
  if (name === '' || !/^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(name)) {
    throw usageError(`invalid --add-host "${spec}": bad host name`, 'write --add-host NAME:IP, e.g. --add-host db.local:10.0.0.5');
  }
  if (!isIPv4(ip) && !isIPv6(ip)) {
    throw usageError(`invalid --add-host "${spec}": "${ip}" is not an IP address`, 'write --add-host NAME:IP, e.g. --add-host db.local:10.0.0.5');
  }
  return { ip, names: [name] };
}

export interface HostsOptions {
  hostname: string;
  /** The container's own addresses (one per network) with the names it answers to there. */
  own: readonly HostEntry[];
  /** --add-host entries. */
  extra?: readonly HostEntry[];
}

/** /etc/hosts like Docker's: localhost lines, extra hosts, then the container's own addresses. */
export function renderHosts(o: HostsOptions): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const e of o.extra ?? []) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  for (const e of o.own) lines.push(`${e.ip}\t${[o.hostname, ...e.names.filter((n) => n !== o.hostname)].join(' ')}`);
  if (o.own.length === 0) lines.push(`127.0.1.1\t${o.hostname}`);
  return `${lines.join('\n')}\n`;
}

export function renderHostname(hostname: string): string {
  return `${hostname}\n`;
}

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0] !== undefined) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

export function renderResolvConf(r: ResolvConf): string {
  const lines = r.nameservers.map((n) => `nameserver ${n}`);
  if (r.search.length > 0) lines.push(`search ${r.search.join(' ')}`);
  if (r.options.length > 0) lines.push(`options ${r.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1';

export interface ContainerResolvOptions {
  /** The host's resolv.conf, parsed. */
  host: ResolvConf;
  /** Our DNS server for the container's network (its gateway), when the network has one. */
  embeddedDns?: string | undefined;
  /** --dns, --dns-search, --dns-option. */
  dns?: readonly string[];
  dnsSearch?: readonly string[];
  dnsOptions?: readonly string[];
}

/**
 * The container's resolv.conf. With an embedded DNS server it is the only nameserver (it forwards the rest);
 * otherwise --dns, else the host's nameservers minus loopback ones (unreachable from the container's netns).
 * Search domains and options come from the flags, else from the host.
 */
export function containerResolvConf(o: ContainerResolvOptions): ResolvConf {
  let nameservers: string[];
  if (o.embeddedDns !== undefined) nameservers = [o.embeddedDns];
  else if (o.dns !== undefined && o.dns.length > 0) nameservers = [...o.dns];
  else nameservers = o.host.nameservers.filter((n) => !isLoopback(n));
  return {
    nameservers,
    search: o.dnsSearch !== undefined && o.dnsSearch.length > 0 ? [...o.dnsSearch] : o.host.search,
    options: o.dnsOptions !== undefined && o.dnsOptions.length > 0 ? [...o.dnsOptions] : o.host.options,
  };
}
