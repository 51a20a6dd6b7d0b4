// Builds the shim's spec (docs/shim-protocol.md) from decisions made in TypeScript, and encodes it.
// Pure: no I/O. Everything the C shim does is spelled out here.
import { GantryError } from '../../common/errors.js';
import type { CgroupView } from '../cgroups/index.js';

/** The spec format's version, the first entry of every spec; the shim reads this one and older ones (2 added
 * `seccomp`, 3 `cgroup_self` and `cgroup_into`), and refuses a newer one. */
export const SHIM_SPEC_VERSION = 3;

export const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, BIND: 4096, REC: 16384, STRICTATIME: 1 << 24 } as const;

const RLIMITS: Record<string, number> = { cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7,
  memlock: 8, as: 9, locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15 };

export function rlimitNumber(name: string): number {
  const n = RLIMITS[name.toLowerCase()];
  if (n === undefined) throw new GantryError('USAGE', `unknown ulimit "${name}"`, { hint: `known ulimits: ${Object.keys(RLIMITS).join(', ')}` });
  return n;
}

export type Namespace = 'pid' | 'mount' | 'uts' | 'ipc' | 'cgroup' | 'net';

export interface SpecMount { source: string; target: string; fstype: string; flags: number; data: string }

export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: number[];
  capsMask: bigint;
  noNewPrivs: boolean;
  /** struct sock_filter[] the shim installs before exec (src/engine/seccomp); absent = unconfined. */
  seccompFilter?: Buffer | undefined;
  tty: boolean;
  /** The pty's size from the start, [rows, cols] (Docker's ConsoleSize); absent: 24x80 until a resize. */
  ttySize?: readonly [number, number] | undefined;
  stdin: boolean;
  exitFile: string;
  socket: string;
  /** Files the shim writes the process's pid to (v2 `cgroup.procs`; CgroupJoin.byPid). */
  cgroupProcs: readonly string[];
  /** Files the process writes "0" to itself, first thing (v1 `tasks`; CgroupJoin.self). */
  cgroupSelf: readonly string[];
  /** The shim forks once at start, so that it is no child of the daemon (shim-process.ts); the daemon reaps it. */
  detach?: boolean | undefined;
}

export interface ContainerRuntimeSpec extends ProcessSpec {
  id: string;
  rootfs: string;
  overlayOptions: string;
  namespaces: Namespace[];
  netnsPath?: string | undefined;
  /** cgroup v2: the cgroup dir the init is cloned into (clone3 CLONE_INTO_CGROUP; CgroupJoin.into). */
  cgroupInto?: string | undefined;
  hostname: string;
  mounts: SpecMount[];
  /** The container's /sys/fs/cgroup, mounted right after /sys (so /etc files and user mounts may cover it). */
  cgroupView?: CgroupView | undefined;
  /** Made 0666 root:root unless `owner` is given (a --device node takes its host node's). */
  devices: Array<{ path: string; type: 'c' | 'b'; major: number; minor: number; owner?: { mode: number; uid: number; gid: number } | undefined }>;
  symlinks: Array<{ target: string; link: string }>;
  maskedPaths: string[];
  readonlyPaths: string[];
  sysctls: Record<string, string>;
  readonlyRootfs: boolean;
  rlimits: Array<{ resource: number; soft: number; hard: number }>;
  oomScoreAdj: number;
  /** `--init`: pid 1 is the shim's binary at INIT_PATH (the caller adds its mount, initMount()). */
  init: boolean;
  /** The json-file log; absent = no log file (driver none). */
  logPath?: string | undefined;
  /** Rotate before a line would make the log larger than this (bytes). */
  logMaxSizeBytes?: number | undefined;
  /** Files kept in total when rotating: log, log.1 … log.(N-1). */
  logMaxFiles?: number | undefined;
  /** JSON object written as `attrs` in every log line. */
  logAttrs?: string | undefined;
}

export interface ExecRuntimeSpec extends ProcessSpec {
  id: string;
  targetPid: number;
}

export const MASKED_PATHS = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap'];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_DEVICES: ContainerRuntimeSpec['devices'] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3 }, { path: '/dev/zero', type: 'c', major: 1, minor: 5 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7 }, { path: '/dev/random', type: 'c', major: 1, minor: 8 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9 }, { path: '/dev/tty', type: 'c', major: 5, minor: 0 },
];

export const DEFAULT_SYMLINKS: ContainerRuntimeSpec['symlinks'] = [
  { target: '/proc/self/fd', link: '/dev/fd' }, { target: '/proc/self/fd/0', link: '/dev/stdin' },
  { target: '/proc/self/fd/1', link: '/dev/stdout' }, { target: '/proc/self/fd/2', link: '/dev/stderr' },
  { target: 'pts/ptmx', link: '/dev/ptmx' }, { target: '/proc/kcore', link: '/dev/core' },
];

/** The filesystems every container gets before user mounts: /proc, /dev, devpts, shm, mqueue, read-only /sys. */
export function baseMounts(shmSizeBytes: number): SpecMount[] {
  const { NOSUID, NODEV, NOEXEC, RDONLY, STRICTATIME } = MS;
  return [
    { source: 'proc', target: '/proc', fstype: 'proc', flags: NOSUID | NODEV | NOEXEC, data: '' },
    { source: 'tmpfs', target: '/dev', fstype: 'tmpfs', flags: NOSUID | STRICTATIME, data: 'mode=755,size=65536k' },
    { source: 'devpts', target: '/dev/pts', fstype: 'devpts', flags: NOSUID | NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620,gid=5' },
    { source: 'shm', target: '/dev/shm', fstype: 'tmpfs', flags: NOSUID | NODEV | NOEXEC, data: `mode=1777,size=${shmSizeBytes}` },
    { source: 'mqueue', target: '/dev/mqueue', fstype: 'mqueue', flags: NOSUID | NODEV | NOEXEC, data: '' },
    { source: 'sysfs', target: '/sys', fstype: 'sysfs', flags: NOSUID | NODEV | NOEXEC | RDONLY, data: '' },
  ];
}

/** Where `--init` puts its init inside the container (Docker's is /sbin/docker-init). */
export const INIT_PATH = '/sbin/gantry-init';

/** The init binary (the static shim itself) bound read-only at INIT_PATH: /proc/1 then shows no host path. */
export function initMount(binary: string): SpecMount {
  return { source: binary, target: INIT_PATH, fstype: 'none', flags: MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV, data: '' };
}

type Entry = [string, ...string[]];

/** The cgroup view as mounts (flags included), in the mount list right after the last /sys mount. */
export function mountsWithCgroupView(mounts: readonly SpecMount[], view: CgroupView | undefined): SpecMount[] {
  if (view === undefined) return [...mounts];
  const { NOSUID, NODEV, NOEXEC, RDONLY } = MS;
  const own = view.mounts.map((m): SpecMount => ({ source: m.source, target: m.target, fstype: m.fstype === 'bind' ? 'none' : m.fstype,
    flags: NOSUID | NODEV | NOEXEC | (m.readOnly ? RDONLY : 0) | (m.fstype === 'bind' ? MS.BIND : 0), data: m.data }));
  let at = 0;
  mounts.forEach((m, i) => { if (m.target === '/sys') at = i + 1; });
  return [...mounts.slice(0, at), ...own, ...mounts.slice(at)];
}

/** Remounts (after the symlinks) that make the view's filled-in filesystems read-only: a bind remount, so only
 * the container's mount changes. */
function cgroupViewRemounts(view: CgroupView | undefined): Entry[] {
  const { BIND, NOSUID, NODEV, NOEXEC, RDONLY } = MS;
  return (view?.readOnlyAfterSetup ?? []).map((target): Entry => ['remount', target, String(BIND | NOSUID | NODEV | NOEXEC | RDONLY)]);
}

function processEntries(p: ProcessSpec): Entry[] {
  const out: Entry[] = [];
  for (const f of p.cgroupProcs) out.push(['cgroup_procs', f]);
  for (const f of p.cgroupSelf) out.push(['cgroup_self', f]);
  out.push(['cwd', p.cwd], ['user', String(p.uid), String(p.gid)], ['groups', p.groups.join(',')],
    ['caps', p.capsMask.toString(16)], ['no_new_privs', p.noNewPrivs ? '1' : '0'],
    ...(p.seccompFilter === undefined ? [] : [['seccomp', p.seccompFilter.toString('hex')] as Entry]),
    ['tty', p.tty ? '1' : '0'], ...(p.tty && p.ttySize !== undefined ? [['tty_size', String(p.ttySize[0]), String(p.ttySize[1])] as Entry] : []), ['stdin', p.stdin ? '1' : '0'], ['exit_file', p.exitFile], ['socket', p.socket]);
  if (p.detach === true) out.push(['detach', '1']);
  for (const e of p.env) out.push(['env', e]);
  for (const a of p.args) out.push(['arg', a]);
  return out;
}

export function containerSpecEntries(s: ContainerRuntimeSpec): Entry[] {
  const out: Entry[] = [['version', String(SHIM_SPEC_VERSION)], ['id', s.id], ['rootfs', s.rootfs]];
  if (s.overlayOptions) out.push(['overlay', s.overlayOptions]);
  for (const ns of s.namespaces) out.push(['ns', ns]);
  if (s.netnsPath) out.push(['netns', s.netnsPath]);
  if (s.cgroupInto !== undefined) out.push(['cgroup_into', s.cgroupInto]);
  if (s.namespaces.includes('uts')) out.push(['hostname', s.hostname]);
  for (const m of mountsWithCgroupView(s.mounts, s.cgroupView)) out.push(['mount', m.source, m.target, m.fstype, String(m.flags), m.data]);
  for (const d of s.devices) out.push(['device', d.path, d.type, String(d.major), String(d.minor)]);
  for (const d of s.devices) if (d.owner !== undefined) out.push(['device_owner', d.path, String(d.owner.mode), String(d.owner.uid), String(d.owner.gid)]);
  for (const l of [...s.symlinks, ...(s.cgroupView?.symlinks ?? [])]) out.push(['symlink', l.target, l.link]);
  out.push(...cgroupViewRemounts(s.cgroupView));
  for (const p of s.maskedPaths) out.push(['mask', p]);
  for (const p of s.readonlyPaths) out.push(['ro_path', p]);
  for (const [k, v] of Object.entries(s.sysctls)) out.push(['sysctl', k, v]);
  out.push(['readonly_rootfs', s.readonlyRootfs ? '1' : '0']);
  for (const r of s.rlimits) out.push(['rlimit', String(r.resource), String(r.soft), String(r.hard)]);
  out.push(['oom_score_adj', String(s.oomScoreAdj)], ['init', s.init ? '1' : '0']);
  if (s.init) out.push(['init_path', INIT_PATH]);
  if (s.logPath !== undefined) {
    out.push(['log', s.logPath]);
    if (s.logMaxSizeBytes !== undefined) out.push(['log_max_size', String(s.logMaxSizeBytes)], ['log_max_files', String(s.logMaxFiles ?? 1)]);
    if (s.logAttrs !== undefined) out.push(['log_attrs', s.logAttrs]);
  }
  out.push(...processEntries(s));
  return out;
}

export function execSpecEntries(s: ExecRuntimeSpec): Entry[] {
  return [['version', String(SHIM_SPEC_VERSION)], ['id', s.id], ['target_pid', String(s.targetPid)], ...processEntries(s)];
}

/** NUL-terminated strings: key, then its values. NUL inside a value cannot be represented: reject it. */
export function encodeSpec(entries: Entry[]): Buffer {
  const parts: string[] = [];
  for (const entry of entries) {
    for (const s of entry) {
      if (s.includes('\0')) throw new GantryError('INVALID_ARGUMENT', `a value of "${entry[0]}" contains a NUL byte`);
      parts.push(s, '\0');
    }
  }
  return Buffer.from(parts.join(''));
}
