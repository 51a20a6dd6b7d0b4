// Network namespaces made ahead of a container's start (issue 16 item 2, "One `run --rm`" in docs/architecture.md).
//
// A start used to pay, between the shim's clone and `go`, for a new network namespace (the clone's CLONE_NEWNET,
// under the kernel's global rtnl lock), IPv6 turned off inside it, and on a bridge network a veth pair whose peer
// is created inside it (3-8 ms of kernel time). The pool makes one of each kind the daemon has started (`none`, or
// a bridge network) while the daemon is idle: a fresh namespace with IPv6 off and `lo` up, and for a bridge a veth
// pair already plugged into the bridge (host end up, `eth0` inside, down, without an address). A start takes one:
// the shim joins it (`netns` in its spec, a path to the daemon's fd) instead of making its own, and the network
// manager only sets eth0's address, MAC and route. Moving a veth end into a namespace instead (a pool of veth pairs)
// was measured slower than making it there: the move waits for an RCU grace period (~20 ms).
//
// The pooled namespaces are held by fds of the daemon only (nothing is mounted, nothing outlives the daemon): once
// the container's init has joined one, the pool's fd is closed and the namespace lives exactly as long as the
// container's processes, as one the shim made. A veth pair goes with its namespace; the host ends are named with
// the daemon's link prefix (`<prefix>p<8 hex>`, random), so the stale-link sweep of a later daemon removes any the
// kernel had not deleted yet, and no other daemon's names can collide. Dropped on `network rm` and at shutdown.
import { randomBytes } from 'node:crypto';
import { CLONE_NEWNET, O_RDONLY, sysClose, sysGettid, sysOpen, sysSetns, sysUnshare } from '../../sys/ffi.js';
import { Rtnl, withRtnl } from '../../sys/netlink.js';
import { checkIfName, VETH_QUEUES, type NetnsTarget } from './bridge.js';
import { disableIPv6InNetns, disableIPv6OnLink } from './ipv6-off.js';

/** The key of the `--network none` namespaces; a bridge network's key is its id. */
export const NONE = 'none';

/** The container end of a pooled veth. */
export const POOLED_IFNAME = 'eth0';

export interface PooledVeth {
  bridge: string;
  /** The bridge's index when the pair was plugged into it: a bridge made again since is another one. */
  bridgeIndex: number;
  hostIfName: string;
  hostIfIndex: number;
}

export interface PooledNetns {
  key: string;
  /** The daemon's fd of the namespace; `path` names it for other processes (the shim). */
  fd: number;
  path: string;
  veth?: PooledVeth;
}

/** Host end of a pooled veth: `<prefix>p<8 hex>`, random (a container's own are `<prefix>v…`); it keeps the name once taken. */
export function pooledIfName(linkPrefix: string): string {
  return checkIfName(`${linkPrefix}p${randomBytes(4).toString('hex')}`);
}

/** A netns of its own, made by the calling thread (which is moved back): IPv6 off, `lo` up. Returns its fd. */
function makeNetns(): number {
  const self = sysOpen(`/proc/self/task/${sysGettid()}/ns/net`, O_RDONLY);
  let fd = -1;
  try {
    sysUnshare(CLONE_NEWNET, 'a pooled network namespace');
    try {
      fd = sysOpen(`/proc/self/task/${sysGettid()}/ns/net`, O_RDONLY);
    } finally {
      sysSetns(self, CLONE_NEWNET, 'own network namespace');
    }
  } finally {
    sysClose(self);
  }
  try {
    const here = `/proc/self/fd/${fd}`;
    disableIPv6InNetns(here, process.pid); // before lo is up: no ::1 (a --sysctl may turn it on again, as before)
    withRtnl((nl) => nl.setUp(nl.linkIndex('lo'), true), here);
    return fd;
  } catch (e) {
    sysClose(fd);
    throw e;
  }
}

/** A veth pair from the bridge into the namespace: host end plugged in and up, `eth0` inside and down. */
function plugVeth(fd: number, bridge: string, linkPrefix: string): PooledVeth {
  const hostIfName = pooledIfName(linkPrefix);
  const nl = Rtnl.open();
  try {
    const bridgeIndex = nl.linkIndex(bridge);
    nl.createVeth(hostIfName, POOLED_IFNAME, { peerNetns: { fd }, queues: VETH_QUEUES }); // one queue each end, as attachContainer's
    try {
      const hostIfIndex = nl.linkIndex(hostIfName);
      nl.setMaster(hostIfIndex, bridgeIndex);
      disableIPv6OnLink(hostIfName);
      nl.setUp(hostIfIndex, true);
      return { bridge, bridgeIndex, hostIfName, hostIfIndex };
    } catch (e) {
      nl.deleteLinkByName(hostIfName);
      throw e;
    }
  } finally {
    nl.close();
  }
}

export interface NetnsPoolOptions {
  linkPrefix: string;
  /** Deletes a host link off the main thread (the LinkReaper). */
  deleteLink: (name: string) => void;
  log: (msg: string) => void;
  /** Quiet time (no start under way, no exit) before a refill, ms. */
  idleMs?: number;
}

/**
 * One ready namespace per kind wanted. They are made one at a time, on the daemon's thread (its kernel work, ~1 ms
 * for a namespace and 3-8 ms more for a veth, is done while the daemon is idle: a worker thread for it cost ~10 MB of
 * the daemon's memory), once no start has been under way and no container has exited for `idleMs`.
 */
export class NetnsPool {
  private readonly ready = new Map<string, PooledNetns>();
  /** Kinds to keep one of: key → the bridge (undefined for `none`). */
  private readonly wanted = new Map<string, string | undefined>();
  private timer: NodeJS.Timeout | undefined;
  /** Starts between `begin` and `end`; a namespace is made only when there are none. */
  private busy = 0;
  private closed = false;
  /** Off for good after a failure to make one (no privilege, an old kernel): starts make their own, as before. */
  private broken = false;

  constructor(private readonly o: NetnsPoolOptions) {}

  /** A start is under way (until `end`): no fill meanwhile. */
  begin(): void {
    this.busy++;
  }

  end(): void {
    this.busy = Math.max(0, this.busy - 1);
    this.poke();
  }

  /** A ready namespace of that kind, or undefined; either way one is made for the next start once idle. */
  take(key: string, bridge: string | undefined): PooledNetns | undefined {
    if (this.closed || this.broken) return undefined;
    this.wanted.set(key, bridge);
    const got = this.ready.get(key);
    this.ready.delete(key);
    if (got?.veth !== undefined && !this.stillPlugged(got.veth)) {
      this.discard(got);
      return undefined;
    }
    return got;
  }

  /** Closes the daemon's fd once the container's init is in it (or the start failed): the namespace is the container's. */
  release(ns: PooledNetns): void {
    sysClose(ns.fd);
  }

  /** Some activity (an exit): the refill waits for a quiet moment. */
  poke(): void {
    if (this.closed || this.broken || this.wanted.size === 0) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = undefined; this.fillOne(); }, this.o.idleMs ?? 10);
    this.timer.unref();
  }

  /** `network rm`: its pooled namespace and veth go (before its bridge does). */
  drop(key: string): void {
    this.wanted.delete(key);
    const ns = this.ready.get(key);
    this.ready.delete(key);
    if (ns !== undefined) this.discard(ns);
  }

  /** Shutdown: every pooled namespace and veth goes; nothing is made after this. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const ns of this.ready.values()) this.discard(ns);
    this.ready.clear();
    this.wanted.clear();
  }

  private stillPlugged(v: PooledVeth): boolean {
    try {
      return withRtnl((nl) => nl.indexOf(v.bridge) === v.bridgeIndex && nl.indexOf(v.hostIfName) === v.hostIfIndex);
    } catch {
      return false;
    }
  }

  private discard(ns: PooledNetns): void {
    if (ns.veth !== undefined) this.o.deleteLink(ns.veth.hostIfName);
    sysClose(ns.fd);
  }

  private fillOne(): void {
    if (this.closed || this.broken || this.busy > 0) return;
    const missing = [...this.wanted].find(([key]) => !this.ready.has(key));
    if (missing === undefined) return;
    const [key, bridge] = missing;
    let fd: number;
    try {
      fd = makeNetns();
    } catch (e) {
      this.broken = true;
      this.o.log(`no network namespaces made ahead of starts (each start makes its own): ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const ns: PooledNetns = { key, fd, path: `/proc/${process.pid}/fd/${fd}` };
    if (bridge !== undefined) {
      try {
        ns.veth = plugVeth(fd, bridge, this.o.linkPrefix);
      } catch {
        // the bridge is gone or being remade: the next start on it plugs its own veth, and asks again
        sysClose(fd);
        this.wanted.delete(key);
        return;
      }
    }
    this.ready.set(key, ns);
    this.poke(); // the next kind after another quiet moment
  }
}

/** A start's share of a pooled veth: the container end's MAC, address, up, and the default route when given. */
export function configurePooledVeth(netns: NetnsTarget, c: { ifName: string; mac: string; address: string; prefixLen: number; gateway: string | undefined }): void {
  withRtnl((nl) => {
    const idx = nl.linkIndex(c.ifName);
    nl.setMac(idx, c.mac);
    nl.addAddress4(idx, c.address, c.prefixLen);
    nl.setUp(idx, true);
    if (c.gateway !== undefined) nl.addDefaultRoute4(c.gateway, idx);
  }, netns);
}
