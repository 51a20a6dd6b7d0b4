// Published-port specs, pure: `-p [IP:][HOST[-HOST]:]CTR[-CTR][/tcp|udp]`, `-P` expansion from exposed ports,
// and the Docker shapes used by inspect and `gantry port`. Bad specs are usage errors (exit status 2).
import { isIPv4, isIPv6 } from 'node:net';
import { usageError } from '../../common/errors.js';

export type PortProtocol = 'tcp' | 'udp';

export interface PortBinding {
  /** Host address to listen on; '' means all IPv4 addresses (0.0.0.0). IPv6 without brackets. */
  hostIp: string;
  /** Host port; 0 means a random free port. */
  hostPort: number;
  /** With a host range and one container port: any free port in [hostPort, hostPortEnd]. */
  hostPortEnd?: number;
  containerPort: number;
  protocol: PortProtocol;
}

const HINT = 'write -p [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], e.g. -p 8080:80, -p 127.0.0.1:5353:53/udp, -p 8000-8002:80-82';

interface Range {
  start: number;
  end: number;
}

function parseRange(text: string, what: string, spec: string): Range {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (m === null) throw usageError(`invalid port spec "${spec}": ${what} "${text}" is not a port or range`, HINT);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  for (const p of [start, end]) {
    if (p < 1 || p > 65535) throw usageError(`invalid port spec "${spec}": ${what} ${p} is outside 1-65535`, HINT);
  }
  if (end < start) throw usageError(`invalid port spec "${spec}": ${what} range ${text} is backwards`, HINT);
  return { start, end };
}

function parseProtocol(text: string | undefined, spec: string): PortProtocol {
  if (text === undefined) return 'tcp';
  const p = text.toLowerCase();
  if (p === 'tcp' || p === 'udp') return p;
  throw usageError(`invalid port spec "${spec}": unsupported protocol "${text}"`, 'use /tcp or /udp');
}

/** Parse one -p value into one binding per container port. */
export function parsePortSpec(spec: string): PortBinding[] {
  const s = spec.trim();
  if (s === '') throw usageError('invalid port spec "": empty', HINT);
  const slash = s.lastIndexOf('/');
  const protocol = parseProtocol(slash < 0 ? undefined : s.slice(slash + 1), spec);
  const body = slash < 0 ? s : s.slice(0, slash);

  let hostIp = '';
  let hostPart = '';
  let ctrPart: string;
  if (body.startsWith('[')) {
    const close = body.indexOf(']');
    if (close < 0 || body[close + 1] !== ':') throw usageError(`invalid port spec "${spec}": bad [IPv6] address`, HINT);
    hostIp = body.slice(1, close);
    const rest = body.slice(close + 2).split(':');
    if (rest.length !== 2) throw usageError(`invalid port spec "${spec}"`, HINT);
    [hostPart, ctrPart] = [rest[0] ?? '', rest[1] ?? ''];
  } else {
    const parts = body.split(':');
    if (parts.length === 1) ctrPart = parts[0] ?? '';
    else if (parts.length === 2) [hostPart, ctrPart] = [parts[0] ?? '', parts[1] ?? ''];
    else if (parts.length === 3) [hostIp, hostPart, ctrPart] = [parts[0] ?? '', parts[1] ?? '', parts[2] ?? ''];
    else throw usageError(`invalid port spec "${spec}": too many ':' (put an IPv6 address in brackets)`, HINT);
    if (parts.length === 2 && hostPart === '') throw usageError(`invalid port spec "${spec}": empty host port`, HINT);
  }
  if (hostIp !== '' && !isIPv4(hostIp) && !isIPv6(hostIp)) {
    throw usageError(`invalid port spec "${spec}": "${hostIp}" is not an IP address`, HINT);
  }
  if (ctrPart === '') throw usageError(`invalid port spec "${spec}": missing container port`, HINT);
  const ctr = parseRange(ctrPart, 'container port', spec);
  const ctrCount = ctr.end - ctr.start + 1;
  const base = { hostIp, protocol };

  if (hostPart === '') {
    return Array.from({ length: ctrCount }, (_, i) => ({ ...base, hostPort: 0, containerPort: ctr.start + i }));
  }
  const host = parseRange(hostPart, 'host port', spec);
  const hostCount = host.end - host.start + 1;
  if (hostCount === ctrCount) {
    return Array.from({ length: ctrCount }, (_, i) => ({ ...base, hostPort: host.start + i, containerPort: ctr.start + i }));
  }
  if (ctrCount === 1) return [{ ...base, hostPort: host.start, hostPortEnd: host.end, containerPort: ctr.start }];
  throw usageError(`invalid port spec "${spec}": host range ${hostPart} and container range ${ctrPart} differ in size`, HINT);
}

function ipsOverlap(a: string, b: string): boolean {
  const any = (ip: string): boolean => ip === '' || ip === '0.0.0.0' || ip === '::';
  return any(a) || any(b) || a === b;
}

function hostRange(b: PortBinding): Range {
  return { start: b.hostPort, end: b.hostPortEnd ?? b.hostPort };
}

/** Parse every -p value and reject two bindings that would claim the same host port. */
export function parsePortSpecs(specs: readonly string[]): PortBinding[] {
  const all = specs.flatMap(parsePortSpec);
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const a = all[i];
      const b = all[j];
      if (a === undefined || b === undefined || a.hostPort === 0 || b.hostPort === 0) continue;
      if (a.protocol !== b.protocol || !ipsOverlap(a.hostIp, b.hostIp)) continue;
      const ra = hostRange(a);
      const rb = hostRange(b);
      if (ra.start <= rb.end && rb.start <= ra.end) {
        throw usageError(`host port ${Math.max(ra.start, rb.start)}/${a.protocol} is published twice`, 'publish each host port once');
      }
    }
  }
  return all;
}

/** Parse an exposed port ("80", "80/udp", "8000-8002/tcp") into ports and protocol. */
export function parseExposedPort(text: string): { ports: number[]; protocol: PortProtocol } {
  const [portText = '', proto] = text.trim().split('/');
  const protocol = parseProtocol(proto, text);
  const r = parseRange(portText, 'exposed port', text);
  return { ports: Array.from({ length: r.end - r.start + 1 }, (_, i) => r.start + i), protocol };
}

/** -P: every exposed port published on a random host port (all addresses). */
export function publishAllPorts(exposed: Iterable<string>): PortBinding[] {
  const out: PortBinding[] = [];
  const seen = new Set<string>();
  for (const e of exposed) {
    const { ports, protocol } = parseExposedPort(e);
    for (const p of ports) {
      const key = `${p}/${protocol}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ hostIp: '', hostPort: 0, containerPort: p, protocol });
    }
  }
  return out;
}

/** A binding that was made: the host port actually listened on. */
export interface PublishedPort {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
}

/** The address to listen on for a binding's hostIp ('' → 0.0.0.0). */
export function listenAddress(hostIp: string): string {
  return hostIp === '' ? '0.0.0.0' : hostIp;
}

/** `gantry port` lines, Docker's format: "80/tcp -> 0.0.0.0:32768". */
export function formatPublishedPorts(ports: readonly PublishedPort[]): string[] {
  return [...ports]
    .sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol))
    .map((p) => {
      const ip = listenAddress(p.hostIp);
      return `${p.containerPort}/${p.protocol} -> ${ip.includes(':') ? `[${ip}]` : ip}:${p.hostPort}`;
    });
}

/** Docker's NetworkSettings.Ports / HostConfig.PortBindings shape: {"80/tcp": [{HostIp, HostPort}]}. */
export function toDockerPortMap(ports: readonly PublishedPort[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    (out[key] ??= []).push({ HostIp: listenAddress(p.hostIp), HostPort: String(p.hostPort) });
  }
  return out;
}
