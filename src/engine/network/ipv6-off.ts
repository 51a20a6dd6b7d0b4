// IPv6 stays off everywhere Gantry puts a link, until a network can enable it (none can yet). Otherwise every
// link comes up with a link-local fe80:: address and accept_ra=1: a container could send router advertisements
// on its bridge and hand the host (or its neighbours) routes and addresses.
//
// Host side: per-interface sysctls of our own links only (bridges and veth host ends), written while the link is
// still down, before the kernel would make its link-local address. `all`/`default` of the host are never touched.
// Container side: `all` and `default` of the container's own network namespace, written before its veths are
// created (they are born with IPv6 off) and before loopback comes up (no ::1). The shim applies the user's
// `--sysctl` entries after that (between `go` and exec), so `--sysctl net.ipv6.conf.all.disable_ipv6=0`
// turns IPv6 back on, as with Docker.
import { statSync, writeFileSync } from 'node:fs';
import { GantryError, errnoCode } from '../../common/errors.js';
import { netnsPath, withNetns, type NetnsTarget } from '../../sys/netns.js';

const conf = (ifName: string, key: string): string => `/proc/sys/net/ipv6/conf/${ifName}/${key}`;

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

/** accept_ra=0 and disable_ipv6=1 on one of our host-side links (call it while the link is down). */
export function disableIPv6OnLink(ifName: string): void {
  if (ifName === 'all' || ifName === 'default' || ifName === 'lo') throw new Error(`disableIPv6OnLink: refusing host-wide key ${ifName}`);
  if (!write(conf(ifName, 'accept_ra'), '0', `link ${ifName}`)) return;
  write(conf(ifName, 'disable_ipv6'), '1', `link ${ifName}`);
}

/** Identity of a netns (its nsfs inode), for a /proc/PID/ns/net link or a bind-mounted netns file alike. */
function netnsInode(target: NetnsTarget): string {
  const st = statSync(netnsPath(target));
  return `${st.dev}:${st.ino}`;
}

/**
 * IPv6 off in a container's own network namespace: all, default (links made later inherit it) and lo.
 * Refuses the daemon's own netns (a container in host mode must never reach here), so the host's
 * `all`/`default` are never written.
 */
let ownNetns: string | undefined;

export function disableIPv6InNetns(target: NetnsTarget): void {
  // The daemon's own netns does not change (withNetns moves a thread only for the length of a call).
  ownNetns ??= netnsInode('/proc/thread-self/ns/net');
  if (netnsInode(target) === ownNetns) {
    throw new GantryError('INTERNAL', `refusing to turn IPv6 off in the daemon's own network namespace (${netnsPath(target)})`);
  }
  withNetns(target, () => {
    for (const name of ['default', 'all', 'lo']) {
      if (!write(conf(name, 'accept_ra'), '0', `netns ${netnsPath(target)}`)) return;
      write(conf(name, 'disable_ipv6'), '1', `netns ${netnsPath(target)}`);
    }
  });
}
