// IPv6 stays off everywhere Gantry puts a link, until a network can enable it (none can yet). Otherwise every
// link comes up with a link-local fe80:: address and accept_ra=1: a container could send router advertisements
// on its bridge and hand the host (or its neighbours) routes and addresses.
//
// Host side: per-interface sysctls of our own links only (bridges and veth host ends), written while the link is
// still down, before the kernel would make its link-local address (through a private procfs, see disableIPv6OnLink). `all`/`default` of the host are never touched.
// Container side: `all` and `default` of the container's own network namespace, written before its veths are
// created (they are born with IPv6 off) and before loopback comes up (no ::1). The shim applies the user's
// `--sysctl` entries after that (between `go` and exec), so `--sysctl net.ipv6.conf.all.disable_ipv6=0`
// turns IPv6 back on, as with Docker.
//
// The container-side writes go through a procfs instance of the container's own pid namespace, not the host's
// /proc: /proc/sys/net dentries are per network namespace but all live in the one procfs instance they are looked
// up in, under the same names, so with the host's /proc every lookup walked one dentry per container ever set up
// (2–3 ms of each start at 3,000 containers, growing with N).
import { statSync, writeFileSync } from 'node:fs';
import { GantryError, errnoCode } from '../../common/errors.js';
import { O_RDONLY, sysClose, sysOpen, sysProcInstance } from '../../sys/ffi.js';
import { netnsPath, withNetns, type NetnsTarget } from '../../sys/netns.js';

const conf = (ifName: string, key: string, proc = '/proc'): string => `${proc}/sys/net/ipv6/conf/${ifName}/${key}`;

let procInstances = true;

/** A private procfs of pid's pid namespace (see above), or undefined (older kernel, or no such process): use /proc. */
function ownProc(pid: number): number | undefined {
  if (!procInstances) return undefined;
  let ns: number;
  try { ns = sysOpen(`/proc/${pid}/ns/pid`, O_RDONLY); } catch { return undefined; }
  try {
    return sysProcInstance(ns, `/proc/${pid}/ns/pid`);
  } catch (e) {
    // EINVAL: a kernel without the pidns option (before 6.15); ask only once
    if (e instanceof GantryError && (e.detail as { errno?: string } | undefined)?.errno === 'EINVAL') procInstances = false;
    return undefined;
  } finally {
    sysClose(ns);
  }
}

/** Write one IPv6 sysctl. false when the kernel has no IPv6 at all (or not for this link): nothing to turn off. */
function write(path: string, value: string, what: string): boolean {
  try {
    writeFileSync(path, value);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw new GantryError('SYSCALL_FAILED', `write \`${path}\` (${what}): ${errnoCode(e) ?? String(e)}`, {
      cause: e, hint: 'Gantry turns IPv6 off on its links; it needs a writable /proc/sys/net',
    });
  }
}

/** Links whose sysctls one procfs instance of the daemon's writes (disableIPv6OnLink) before it is replaced. */
const HOST_PROC_USES = 64;
let hostProc: { fd: number; uses: number } | undefined;

/** The procfs for host-side writes: replaced (and the old one's dentries and inodes freed) every HOST_PROC_USES. */
function hostProcRoot(): string {
  if (hostProc !== undefined && hostProc.uses >= HOST_PROC_USES) {
    sysClose(hostProc.fd);
    hostProc = undefined;
  }
  if (hostProc === undefined) {
    const fd = ownProc(process.pid);
    if (fd === undefined) return '/proc';
    hostProc = { fd, uses: 0 };
  }
  hostProc.uses++;
  return `/proc/self/fd/${hostProc.fd}`;
}

/**
 * accept_ra=0 and disable_ipv6=1 on one of our host-side links (call it while the link is down). Written through a
 * procfs instance of the daemon's own pid namespace, replaced every HOST_PROC_USES links: the host's /proc keeps a
 * dentry and an inode for the link's directory and each file written (~2.9 kB per veth, until the link goes;
 * bench/veth-memory.mjs), a dropped instance frees its own. A new instance per link cost 0.13-0.15 ms.
 * /proc/sys/net shows the netns of the writing thread (the host's), whatever the procfs instance.
 */
export function disableIPv6OnLink(ifName: string): void {
  if (ifName === 'all' || ifName === 'default' || ifName === 'lo') throw new Error(`disableIPv6OnLink: refusing host-wide key ${ifName}`);
  const proc = hostProcRoot();
  if (!write(conf(ifName, 'accept_ra', proc), '0', `link ${ifName}`)) return;
  write(conf(ifName, 'disable_ipv6', proc), '1', `link ${ifName}`);
}

/** Identity of a netns (its nsfs inode), for a /proc/PID/ns/net link or a bind-mounted netns file alike. */
function netnsInode(target: NetnsTarget): string {
  const st = statSync(netnsPath(target));
  return `${st.dev}:${st.ino}`;
}

let ownNetns: string | undefined;

/**
 * IPv6 off in a container's own network namespace: all, default (links made later inherit it) and lo.
 * Refuses the daemon's own netns (a container in host mode must never reach here), so the host's
 * `all`/`default` are never written. `procOf`: the process whose pid namespace's private procfs the writes go
 * through (above); by default the target pid itself (the netns pool, netns-pool.ts, names a namespace by an fd of
 * the daemon's, and gives the daemon's own pid).
 */
export function disableIPv6InNetns(target: NetnsTarget, procOf: number | undefined = typeof target === 'number' ? target : undefined): void {
  // The daemon's own netns does not change (withNetns moves a thread only for the length of a call).
  ownNetns ??= netnsInode('/proc/thread-self/ns/net');
  if (netnsInode(target) === ownNetns) {
    throw new GantryError('INTERNAL', `refusing to turn IPv6 off in the daemon's own network namespace (${netnsPath(target)})`);
  }
  const mnt = procOf === undefined ? undefined : ownProc(procOf);
  const proc = mnt === undefined ? '/proc' : `/proc/self/fd/${mnt}`;
  try {
    withNetns(target, () => {
      for (const name of ['default', 'all', 'lo']) {
        if (!write(conf(name, 'accept_ra', proc), '0', `netns ${netnsPath(target)}`)) return;
        write(conf(name, 'disable_ipv6', proc), '1', `netns ${netnsPath(target)}`);
      }
    });
  } finally {
    if (mnt !== undefined) sysClose(mnt);
  }
}
