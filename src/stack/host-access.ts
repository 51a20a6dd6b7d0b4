// What a stack asks of the host: `privileged`, added capabilities, host namespaces, devices, no seccomp filter, binds of the
// host root, of system directories or of the daemon's socket. Each is a located warning naming the risk in
// plain words (an error in strict mode). In strict mode every path the stack names (bind sources, build
// contexts, secret and config files) must also stay inside the project directory (see file-policy.ts; env
// files, includes and extends files are checked where they are read, before reading).

import { resolve } from 'node:path';
import { seccompOptionValue } from '../common/seccomp-option.js';
import type { DiagnosticCode } from './diagnostic-codes.js';
import type { FilePolicy } from './file-policy.js';
import { allowPath, realPathOfExisting } from './file-policy.js';
import { resolvedPath, resolveHostPath } from './host-path.js';
import type { PathSeg, PMap, PNode, Pos } from './pnode.js';
import { getEntry } from './pnode.js';
import type { Reporter } from './report.js';
import { isPathSource, parseVolumeShort } from './short-syntax.js';

/** Docker's default capability set: adding one of these changes nothing. */
export const DEFAULT_CAPABILITIES: ReadonlySet<string> = new Set([
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
]);

const CAPABILITY_RISK: Readonly<Record<string, string>> = {
  ALL: 'this gives the container every capability, close to full control of the host',
  SYS_ADMIN: 'this lets the container mount filesystems and reach most of the kernel, close to full control of the host',
  SYS_MODULE: 'this lets the container load kernel modules, that is run any code in the host kernel',
  SYS_RAWIO: 'this lets the container read and write host memory and I/O ports directly',
  SYS_PTRACE: 'this lets the container trace and read the memory of the processes it can see',
  DAC_READ_SEARCH: 'this lets the container read any file it can reach regardless of permissions, and open host files by handle',
  NET_ADMIN: 'this lets the container reconfigure the interfaces, routes and firewall of its network',
  SYS_TIME: 'this lets the container set the host clock',
  BPF: 'this lets the container load BPF programs into the host kernel',
};

const NAMESPACE_RISK: Readonly<Record<string, string>> = {
  network_mode: "the container shares the host's network: it can bind any host port, see every host interface and reach services that listen only on localhost",
  pid: 'the container sees every process on the host and can signal those of its user',
  ipc: "the container shares the host's shared memory and IPC objects",
  uts: "the container can change the host's hostname",
  userns_mode: 'root in the container is root on the host (no user namespace)',
};

/** Binds of these directories themselves are flagged; of anything inside the first group too. */
const SYSTEM_TREES = ['/proc', '/sys', '/dev', '/boot'];
const SYSTEM_DIRS = ['/etc', '/var/run', '/run', '/usr', '/bin', '/sbin', '/lib', '/var/lib'];

interface Check {
  readonly policy: FilePolicy;
  readonly reporter: Reporter;
  readonly projectDir: string;
  readonly shell: Readonly<Record<string, string | undefined>>;
}

function text(n: PNode | undefined): string | undefined {
  return n?.kind === 'scalar' && n.value !== null ? String(n.value) : undefined;
}

function risky(c: Check, code: DiagnosticCode, message: string, pos: Pos, path: readonly PathSeg[]): void {
  if (c.policy.strict) c.reporter.error(code, message, pos, path, 'strict mode (--strict, and every deployment from git) refuses this; remove it from the stack');
  else c.reporter.warn(code, message, pos, path, 'remove it unless the service really needs it; `--strict` refuses it');
}

/** The daemon sockets a bind must not expose: Gantry's, Docker's, and whatever GANTRY_HOST / DOCKER_HOST name. */
function daemonSockets(shell: Readonly<Record<string, string | undefined>>, cache: Map<string, string | null>): Set<string> {
  const out = new Set(['/run/gantry/gantry.sock', '/var/run/gantry/gantry.sock', '/var/run/docker.sock', '/run/docker.sock']);
  for (const v of [shell['GANTRY_HOST'], shell['DOCKER_HOST']]) {
    if (v === undefined || v === '') continue;
    const p = v.startsWith('unix://') ? v.slice(7) : v.startsWith('/') ? v : undefined;
    if (p !== undefined) out.add(resolve(p));
  }
  return new Set([...out].flatMap((s) => [s, realPathOfExisting(s, cache)]));
}

/** The risk of binding `source` (absolute), or undefined when it is not one of the flagged paths. */
export function bindRisk(source: string, sockets: ReadonlySet<string>, cache?: Map<string, string | null>): string | undefined {
  for (const p of new Set([resolvedPath(source), realPathOfExisting(source, cache)])) {
    if (p === '/') return 'the container can read and change every file on the host';
    if (sockets.has(p)) return 'whoever can use this socket controls the container engine, so the container gets full control of the host';
    const tree = SYSTEM_TREES.find((d) => p === d || p.startsWith(`${d}/`));
    if (tree !== undefined) return `the container can reach the host's kernel and devices through ${tree}`;
    if (SYSTEM_DIRS.includes(p)) return `the container can read and change the host's system files in ${p}`;
  }
  return undefined;
}

function checkBind(c: Check, sockets: ReadonlySet<string>, name: string, src: string, pos: Pos, path: readonly PathSeg[]): void {
  const abs = resolveHostPath(pos.base || c.projectDir, src);
  const risk = bindRisk(abs, sockets, c.policy.realPaths);
  if (risk !== undefined) risky(c, 'SPEC_RISKY_BIND', `service "${name}" bind-mounts ${abs}: ${risk}`, pos, path);
  else allowPath(c.policy, c.reporter, abs, 'bind source', pos, path);
}

function checkService(c: Check, sockets: ReadonlySet<string>, name: string, svc: PMap): void {
  const at = (k: string): PathSeg[] => ['services', name, k];
  const priv = getEntry(svc, 'privileged')?.value;
  if (priv !== undefined && (text(priv) === 'true')) risky(c, 'SPEC_RISKY_PRIVILEGED', `service "${name}" runs privileged: this gives the container full control of the host`, priv.pos, at('privileged'));

  const caps = getEntry(svc, 'cap_add')?.value;
  if (caps?.kind === 'seq') {
    caps.items.forEach((item, i) => {
      const raw = text(item);
      if (raw === undefined) return;
      const cap = raw.toUpperCase().replace(/^CAP_/, '');
      if (DEFAULT_CAPABILITIES.has(cap)) return;
      const risk = CAPABILITY_RISK[cap] ?? "a capability beyond Docker's default set widens what the container may do to the host kernel";
      risky(c, 'SPEC_RISKY_CAPABILITY', `service "${name}" adds the capability ${cap}: ${risk}`, item.pos, [...at('cap_add'), i]);
    });
  }

  for (const key of Object.keys(NAMESPACE_RISK)) {
    const v = getEntry(svc, key)?.value;
    if (v !== undefined && text(v) === 'host') risky(c, 'SPEC_RISKY_HOST_NAMESPACE', `service "${name}" uses ${key}: host: ${NAMESPACE_RISK[key] as string}`, v.pos, at(key));
  }

  const securityOpt = getEntry(svc, 'security_opt')?.value;
  if (securityOpt?.kind === 'seq') {
    securityOpt.items.forEach((item, i) => {
      if (seccompOptionValue(text(item) ?? '') !== 'unconfined') return;
      risky(c, 'SPEC_RISKY_SECCOMP', `service "${name}" runs without the seccomp filter: every syscall reaches the host kernel, including those that broke out of containers before (keyctl, user namespaces, io_uring)`, item.pos, [...at('security_opt'), i]);
    });
  }

  const devices = getEntry(svc, 'devices')?.value;
  if (devices?.kind === 'seq') {
    devices.items.forEach((item, i) => {
      const dev = text(item)?.split(':')[0] ?? text(getEntry(item, 'source')?.value);
      if (dev === undefined) return;
      risky(c, 'SPEC_RISKY_DEVICE', `service "${name}" is given the host device ${dev}: the container can use this hardware directly`, item.pos, [...at('devices'), i]);
    });
  }

  const volumes = getEntry(svc, 'volumes')?.value;
  if (volumes?.kind === 'seq') {
    volumes.items.forEach((item, i) => {
      const path = [...at('volumes'), i];
      const short = text(item);
      if (short !== undefined) {
        let parsed;
        try {
          parsed = parseVolumeShort(short);
        } catch {
          return; // malformed: reported by normalisation
        }
        if (parsed.type === 'bind' && parsed.source !== undefined) checkBind(c, sockets, name, parsed.source, item.pos, path);
        return;
      }
      const type = text(getEntry(item, 'type')?.value);
      const source = getEntry(item, 'source')?.value;
      const src = text(source);
      if (src !== undefined && source !== undefined && (type === 'bind' || (type === undefined && isPathSource(src)))) checkBind(c, sockets, name, src, source.pos, path);
    });
  }

  const build = getEntry(svc, 'build')?.value;
  const context = build?.kind === 'map' ? getEntry(build, 'context')?.value : build;
  const ctxText = text(context);
  if (ctxText !== undefined && context !== undefined && !/^[a-z][a-z0-9+.-]*:\/\/|^git@/i.test(ctxText)) {
    allowPath(c.policy, c.reporter, resolveHostPath(context.pos.base || c.projectDir, ctxText), 'build context', context.pos, at('build'));
  }
}

/** Checks every service and top-level file object of the merged, interpolated tree. */
export function checkHostAccess(root: PMap, policy: FilePolicy, reporter: Reporter, projectDir: string, shell: Readonly<Record<string, string | undefined>>): void {
  const c: Check = { policy, reporter, projectDir, shell };
  const sockets = daemonSockets(shell, policy.realPaths);
  const services = getEntry(root, 'services')?.value;
  if (services?.kind === 'map') {
    services.entries.forEach((e, name) => {
      if (!name.startsWith('x-') && e.value.kind === 'map') checkService(c, sockets, name, e.value);
    });
  }
  for (const kind of ['secrets', 'configs'] as const) {
    const objs = getEntry(root, kind)?.value;
    if (objs?.kind !== 'map') continue;
    for (const [name, e] of objs.entries) {
      const f = getEntry(e.value, 'file')?.value;
      const ft = text(f);
      if (ft !== undefined && f !== undefined) allowPath(policy, reporter, resolveHostPath(f.pos.base || projectDir, ft), `${kind.slice(0, -1)} file`, f.pos, [kind, name, 'file']);
    }
  }
  const volumes = getEntry(root, 'volumes')?.value;
  if (volumes?.kind === 'map') {
    for (const [name, e] of volumes.entries) {
      const opts = getEntry(e.value, 'driver_opts')?.value;
      const o = text(getEntry(opts, 'o')?.value) ?? '';
      const device = getEntry(opts, 'device')?.value;
      const dt = text(device);
      if (dt === undefined || device === undefined || !o.split(',').includes('bind')) continue;
      const abs = resolveHostPath(device.pos.base || projectDir, dt);
      const risk = bindRisk(abs, sockets, policy.realPaths);
      const path = ['volumes', name, 'driver_opts', 'device'];
      if (risk !== undefined) risky(c, 'SPEC_RISKY_BIND', `volume "${name}" binds ${abs}: ${risk}`, device.pos, path);
      else allowPath(policy, reporter, abs, 'volume device', device.pos, path);
    }
  }
}
