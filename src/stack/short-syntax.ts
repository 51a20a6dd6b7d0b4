// Parsers for the short string forms of ports and volumes. They return data or throw SyntaxProblem with a
// message meant for the user.

import { isWindowsAbsolute } from './host-path.js';

export class SyntaxProblem extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'SyntaxProblem';
  }
}

export interface ShortPort {
  readonly target: number;
  readonly published: string | undefined;
  readonly host_ip: string | undefined;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
}

const PORT_HINT = 'ports are written [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. "8080:80" or "127.0.0.1:53:53/udp"';

function portNumber(s: string, what: string): number {
  if (!/^[0-9]+$/.test(s)) throw new SyntaxProblem(`${what} ${JSON.stringify(s)} is not a number`, PORT_HINT);
  const n = Number(s);
  if (n < 0 || n > 65535 || (n === 0 && what === 'container port')) throw new SyntaxProblem(`${what} ${n} is out of range (1-65535)`, PORT_HINT);
  return n;
}

function range(s: string, what: string): [number, number] {
  const m = /^([^-]+)(?:-(.+))?$/.exec(s);
  if (m === null) throw new SyntaxProblem(`${what} ${JSON.stringify(s)} is not a port or range`, PORT_HINT);
  const lo = portNumber(m[1] as string, what);
  const hi = m[2] === undefined ? lo : portNumber(m[2], what);
  if (hi < lo) throw new SyntaxProblem(`${what} range ${JSON.stringify(s)} ends before it starts`, PORT_HINT);
  return [lo, hi];
}

/** "[ip:][host[-host]:]ctr[-ctr][/proto]" or a number -> one entry per container port. */
export function parsePortShort(input: string | number): ShortPort[] {
  let s = String(input).trim();
  let protocol: ShortPort['protocol'] = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    const p = s.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw new SyntaxProblem(`unknown protocol ${JSON.stringify(p)}`, 'the protocol is tcp, udp or sctp');
    protocol = p;
    s = s.slice(0, slash);
  }
  let hostIp: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0 || s[end + 1] !== ':') throw new SyntaxProblem(`malformed IPv6 address in ${JSON.stringify(String(input))}`, PORT_HINT);
    hostIp = s.slice(1, end);
    s = s.slice(end + 2);
  }
  const parts = s.split(':');
  if (hostIp === undefined && parts.length === 3) hostIp = parts.shift();
  else if (parts.length > 2 || (hostIp !== undefined && parts.length > 2)) throw new SyntaxProblem(`too many ":" in port ${JSON.stringify(String(input))}`, PORT_HINT);
  const ctr = parts.pop() as string;
  const host = parts.pop();
  if (hostIp !== undefined && hostIp !== '' && !/^[0-9.]+$|:/.test(hostIp)) throw new SyntaxProblem(`host IP ${JSON.stringify(hostIp)} is not an IP address`, PORT_HINT);
  const [clo, chi] = range(ctr, 'container port');
  let hlo: number | undefined;
  let hhi: number | undefined;
  if (host !== undefined && host !== '') [hlo, hhi] = range(host, 'host port');
  const count = chi - clo + 1;
  const out: ShortPort[] = [];
  for (let i = 0; i < count; i++) {
    let published: string | undefined;
    if (hlo !== undefined && hhi !== undefined) {
      const hostCount = hhi - hlo + 1;
      if (count === 1) published = hostCount === 1 ? String(hlo) : `${hlo}-${hhi}`;
      else if (hostCount === count) published = String(hlo + i);
      else throw new SyntaxProblem(`host range ${hlo}-${hhi} and container range ${clo}-${chi} differ in size`, PORT_HINT);
    }
    out.push({ target: clo + i, published, host_ip: hostIp === '' ? undefined : hostIp, protocol });
  }
  return out;
}

export interface ShortVolume {
  readonly type: 'bind' | 'volume';
  readonly source: string | undefined;
  readonly target: string;
  readonly read_only: boolean;
  readonly propagation: string | undefined;
  readonly selinux: string | undefined;
  readonly nocopy: boolean;
}

const VOLUME_HINT = 'volumes are written [SOURCE:]TARGET[:MODE], e.g. "./data:/data:ro" or "dbdata:/var/lib/db"';
const PROPAGATION = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

/** True when a short-syntax volume source is a host path rather than a volume name. */
export function isPathSource(source: string): boolean {
  return source.startsWith('/') || source.startsWith('.') || source.startsWith('~') || source.includes('/') || isWindowsAbsolute(source);
}

/**
 * Splits SOURCE:TARGET[:MODE] on ":", except the colon of a Windows drive letter in the source
 * ("C:\data:/data"). The drive reading is taken only when an absolute container path follows, so a one-letter
 * volume name stays a volume name ("a:/data:ro").
 */
function volumeParts(s: string): string[] {
  if (isWindowsAbsolute(s) && s[1] === ':') {
    const next = s.indexOf(':', 2);
    const rest = next < 0 ? '' : s.slice(next + 1);
    if (next >= 0 && rest.startsWith('/')) return [s.slice(0, next), ...rest.split(':')];
  }
  return s.split(':');
}

export function parseVolumeShort(s: string): ShortVolume {
  const parts = volumeParts(s);
  if (parts.length > 3 || parts.some((p) => p === '')) throw new SyntaxProblem(`malformed volume ${JSON.stringify(s)}`, VOLUME_HINT);
  if (parts.length === 1) {
    return { type: 'volume', source: undefined, target: parts[0] as string, read_only: false, propagation: undefined, selinux: undefined, nocopy: false };
  }
  const [source, target, mode] = parts as [string, string, string | undefined];
  let readOnly = false;
  let propagation: string | undefined;
  let selinux: string | undefined;
  let nocopy = false;
  for (const m of mode === undefined ? [] : mode.split(',')) {
    if (m === 'ro') readOnly = true;
    else if (m === 'rw') readOnly = false;
    else if (m === 'z' || m === 'Z') selinux = m;
    else if (m === 'nocopy') nocopy = true;
    else if (PROPAGATION.has(m)) propagation = m;
    else if (m === 'cached' || m === 'delegated' || m === 'consistent') continue;
    else throw new SyntaxProblem(`unknown volume mode ${JSON.stringify(m)}`, 'modes are ro, rw, z, Z, nocopy and a propagation (shared, slave, private, and r-variants)');
  }
  return { type: isPathSource(source) ? 'bind' : 'volume', source, target, read_only: readOnly, propagation, selinux, nocopy };
}
