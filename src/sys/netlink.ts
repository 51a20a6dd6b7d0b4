// rtnetlink over a raw AF_NETLINK socket (koffi via ffi.ts). All calls are synchronous and short: the kernel
// handles a request inside sendto(), and dumps are produced as we recv(). A socket opened inside another
// network namespace (Rtnl.open(netns)) keeps operating there after the thread has moved back.
import {
  AF_NETLINK, NETLINK_ROUTE, SOCK_CLOEXEC, SOCK_RAW, SOL_NETLINK, NETLINK_EXT_ACK, SOL_SOCKET, SO_RCVBUF,
  SyscallError, sysBind, sysClose, sysIfIndex, sysRecv, sysSendto, sysSetRecvTimeout, sysSetsockoptInt, sysSocket,
} from './ffi.js';
import { withNetns, type NetnsTarget } from './netns.js';
import {
  AF_BRIDGE, AF_INET, IFLA_BRPORT_BCAST_FLOOD, IFLA_BRPORT_FLUSH, IFLA_BRPORT_LEARNING, IFLA_BRPORT_MCAST_FLOOD, IFLA_BRPORT_UNICAST_FLOOD, IFLA_PROTINFO, NLA_F_NESTED, RTM_SETLINK, attrFlag, attrU8,
  IFA_ADDRESS, IFA_BROADCAST, IFA_LOCAL, IFF_UP, IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_DATA,
  IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU, IFLA_NET_NS_FD, IFLA_NET_NS_PID, IFLA_NUM_RX_QUEUES, IFLA_NUM_TX_QUEUES, NLMSG_DONE, NLMSG_ERROR,
  NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_REQUEST, RTA_GATEWAY, RTA_OIF,
  RTM_DELLINK, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTN_UNICAST,
  IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, VETH_INFO_PEER, attrIPv4, attrNest, attrStr, attrU32,
  ifaddrmsg, ifinfomsg, ipv4Bytes, macBytes, nlmsg, parseAddr, parseError, parseLink, parseMessages, parseRoute,
  rtattr, rtmsg, type AddrInfo, type LinkInfo, type NlMessage, type RouteInfo,
} from './netlink-codec.js';

export type { AddrInfo, LinkInfo, RouteInfo } from './netlink-codec.js';

const ENODEV = 19;
const EINTR = 4;
/** How often an interrupted dump is sent again before its EINTR is the caller's. */
const DUMP_ATTEMPTS = 10;
const dumpPause = new Int32Array(new SharedArrayBuffer(4));
const RECV_BUF = 256 * 1024;

/** Where to put the peer of a new veth: a netns fd we hold open, or a pid whose netns to use. */
export type PeerNetns = { fd: number } | { pid: number };

export interface VethOptions {
  /** Namespace for the peer; the peer is created directly inside it (never visible on the host). */
  peerNetns?: PeerNetns;
  mtu?: number;
  peerMac?: string;
  /**
   * Transmit and receive queues of each end (default: the kernel's, one per possible CPU). Each queue is a sysfs
   * directory (~18 kernfs nodes), a `veth_rq` and a qdisc per device; a veth uses them only with XDP or GRO on.
   */
  queues?: number;
}

/** An rtnetlink (NETLINK_ROUTE) socket. Always close() it (try/finally). */
export class Rtnl {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly buf = Buffer.alloc(RECV_BUF);
  private closed = false;
  private readonly kernel: Buffer;

  private constructor(private readonly fd: number, readonly where: string) {
    this.kernel = Buffer.alloc(12);
    this.kernel.writeUInt16LE(AF_NETLINK, 0);
  }

  /** A socket in the calling thread's netns, or inside `netns` when given. */
  static open(netns?: NetnsTarget): Rtnl {
    if (netns !== undefined) return withNetns(netns, () => Rtnl.openHere(`netns ${String(netns)}`));
    return Rtnl.openHere('host');
  }

  private static openHere(where: string): Rtnl {
    const fd = sysSocket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE, 'netlink route');
    try {
      const sa = Buffer.alloc(12);
      sa.writeUInt16LE(AF_NETLINK, 0);
      sysBind(fd, sa, 'netlink route');
      sysSetsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, RECV_BUF);
      try {
        sysSetsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      } catch {
        // old kernels: errors come without the kernel's explanation
      }
      sysSetRecvTimeout(fd, 5000);
    } catch (e) {
      sysClose(fd);
      throw e;
    }
    return new Rtnl(fd, where);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    sysClose(this.fd, 'netlink route');
  }

  /**
   * Send one request and collect the replies. Non-dump requests carry NLM_F_ACK and end at the ACK;
   * an error ACK throws SyscallError(call, object, errno). Dumps end at NLMSG_DONE and are retried when
   * the kernel marks them interrupted.
   */
  request(type: number, flags: number, body: Buffer, call: string, object: string, opts: { partialDump?: boolean } = {}): NlMessage[] {
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    for (let attempt = 0; ; attempt++) {
      const { replies, interrupted } = this.once(type, flags | NLM_F_REQUEST | (dump ? 0 : NLM_F_ACK), body, call, object);
      if (!interrupted) return replies;
      // Links made and deleted meanwhile (other containers, other daemons) interrupt a dump of many: try again,
      // after a pause growing to 5 ms once it happened a few times. `partialDump`: a caller that only acts on what
      // it sees (a sweep of leftovers) takes the second, possibly incomplete, answer instead of trying on.
      if (opts.partialDump === true && attempt >= 1) return replies;
      if (attempt >= DUMP_ATTEMPTS - 1) throw new SyscallError(call, object, EINTR);
      if (attempt >= 3) Atomics.wait(dumpPause, 0, 0, Math.min(5, attempt));
    }
  }

  private once(type: number, flags: number, body: Buffer, call: string, object: string): { replies: NlMessage[]; interrupted: boolean } {
    if (this.closed) throw new Error('Rtnl: socket is closed');
    const seq = (this.seq = (this.seq + 1) >>> 0);
    sysSendto(this.fd, nlmsg(type, flags, seq, body), this.kernel, `netlink ${call}`);
    const replies: NlMessage[] = [];
    let interrupted = false;
    for (;;) {
      const n = sysRecv(this.fd, this.buf, 0, `netlink ${call}`);
      for (const m of parseMessages(this.buf, n)) {
        if (m.seq !== seq) continue; // a stale reply to an earlier request
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.type === NLMSG_ERROR) {
          const err = parseError(m);
          if (err.errno === 0) return { replies, interrupted };
          throw new SyscallError(call, object, err.errno, err.message === undefined ? undefined : `kernel: ${err.message}`);
        }
        if (m.type === NLMSG_DONE) return { replies, interrupted };
        replies.push({ ...m, payload: Buffer.from(m.payload) });
      }
    }
  }

  // ------------------------------------------------------------- links

  /** Every link; `partialDump`: see request(). */
  listLinks(opts: { partialDump?: boolean } = {}): LinkInfo[] {
    // without counters: the dump is shorter to make and to read (and so less often interrupted)
    const body = Buffer.concat([ifinfomsg(), attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)]);
    return this.request(RTM_GETLINK, NLM_F_DUMP, body, 'RTM_GETLINK', 'dump', opts).map((m) => parseLink(m.payload));
  }

  /** The link called `name`, or undefined when there is none. */
  getLink(name: string): LinkInfo | undefined {
    try {
      const r = this.request(RTM_GETLINK, 0, Buffer.concat([ifinfomsg(), attrStr(IFLA_IFNAME, name)]), 'RTM_GETLINK', name);
      const m = r[0];
      return m === undefined ? undefined : parseLink(m.payload);
    } catch (e) {
      if (e instanceof SyscallError && e.errno === ENODEV) return undefined;
      throw e;
    }
  }

  /** The link with index `index`, or undefined when there is none (one request, not a dump of every link). */
  getLinkByIndex(index: number): LinkInfo | undefined {
    try {
      const m = this.request(RTM_GETLINK, 0, ifinfomsg({ index }), 'RTM_GETLINK', `index ${index}`)[0];
      return m === undefined ? undefined : parseLink(m.payload);
    } catch (e) {
      if (e instanceof SyscallError && e.errno === ENODEV) return undefined;
      throw e;
    }
  }

  /**
   * Index of link `name`, or undefined when there is none. An ioctl on this socket, not an RTM_GETLINK: the kernel
   * fills no link message (sysIfIndex), so a veth's lookup does not walk the namespace ids of every container.
   */
  indexOf(name: string): number | undefined {
    return sysIfIndex(this.fd, name);
  }

  /** Index of link `name`; throws SYSCALL_FAILED (ENODEV) when it does not exist. */
  linkIndex(name: string): number {
    const index = this.indexOf(name);
    if (index === undefined) throw new SyscallError('ioctl SIOCGIFINDEX', name, ENODEV);
    return index;
  }

  createBridge(name: string, opts: { mtu?: number } = {}): void {
    const attrs = [attrStr(IFLA_IFNAME, name), attrNest(IFLA_LINKINFO, attrStr(IFLA_INFO_KIND, 'bridge'))];
    if (opts.mtu !== undefined) attrs.push(attrU32(IFLA_MTU, opts.mtu));
    this.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, Buffer.concat([ifinfomsg(), ...attrs]), 'RTM_NEWLINK', `bridge ${name}`);
  }

  /** A veth pair `name` (here) ↔ `peerName` (here, or directly inside opts.peerNetns). */
  createVeth(name: string, peerName: string, opts: VethOptions = {}): void {
    const peerAttrs = [attrStr(IFLA_IFNAME, peerName)];
    if (opts.peerNetns !== undefined) {
      peerAttrs.push('fd' in opts.peerNetns ? attrU32(IFLA_NET_NS_FD, opts.peerNetns.fd) : attrU32(IFLA_NET_NS_PID, opts.peerNetns.pid));
    }
    if (opts.mtu !== undefined) peerAttrs.push(attrU32(IFLA_MTU, opts.mtu));
    if (opts.peerMac !== undefined) peerAttrs.push(rtattr(IFLA_ADDRESS, macBytes(opts.peerMac)));
    const queues = opts.queues === undefined ? [] : [attrU32(IFLA_NUM_TX_QUEUES, opts.queues), attrU32(IFLA_NUM_RX_QUEUES, opts.queues)];
    peerAttrs.push(...queues);
    const peer = rtattr(VETH_INFO_PEER, Buffer.concat([ifinfomsg(), ...peerAttrs]));
    const attrs = [
      attrStr(IFLA_IFNAME, name),
      attrNest(IFLA_LINKINFO, attrStr(IFLA_INFO_KIND, 'veth'), attrNest(IFLA_INFO_DATA, peer)),
    ];
    if (opts.mtu !== undefined) attrs.push(attrU32(IFLA_MTU, opts.mtu));
    attrs.push(...queues);
    this.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, Buffer.concat([ifinfomsg(), ...attrs]), 'RTM_NEWLINK', `veth ${name} (peer ${peerName})`);
  }

  private setLink(index: number, what: string, attrs: Buffer[], flags = 0, change = 0): void {
    this.request(RTM_NEWLINK, 0, Buffer.concat([ifinfomsg({ index, flags, change }), ...attrs]), 'RTM_NEWLINK', what);
  }

  setUp(index: number, up = true): void {
    this.setLink(index, `link #${index} ${up ? 'up' : 'down'}`, [], up ? IFF_UP : 0, IFF_UP);
  }

  /** Enslave to a bridge (masterIndex), or release with 0. */
  setMaster(index: number, masterIndex: number): void {
    this.setLink(index, `link #${index} master #${masterIndex}`, [attrU32(IFLA_MASTER, masterIndex)]);
  }

  /**
   * Takes bridge port `index` out of its bridge's reach at once: no learning, no flooding of unknown unicast,
   * multicast or broadcast to it, and the fdb entries learned on it flushed, so the bridge delivers it nothing.
   * ~0.2 ms of rtnl with 1,000 ports; no RCU wait (setting it down waits for a grace period, and its STP state
   * disabled costs a port state selection, O(ports), ~1 ms at 1,000).
   */
  isolateBridgePort(index: number): void {
    const off = [IFLA_BRPORT_LEARNING, IFLA_BRPORT_UNICAST_FLOOD, IFLA_BRPORT_MCAST_FLOOD, IFLA_BRPORT_BCAST_FLOOD].map((a) => attrU8(a, 0));
    const protinfo = attrNest(IFLA_PROTINFO | NLA_F_NESTED, ...off, attrFlag(IFLA_BRPORT_FLUSH));
    this.request(RTM_SETLINK, 0, Buffer.concat([ifinfomsg({ family: AF_BRIDGE, index }), protinfo]), 'RTM_SETLINK', `bridge port #${index} isolated`);
  }

  /** Rename (the link must be down). */
  rename(index: number, newName: string): void {
    this.setLink(index, `link #${index} rename to ${newName}`, [attrStr(IFLA_IFNAME, newName)]);
  }

  setMtu(index: number, mtu: number): void {
    this.setLink(index, `link #${index} mtu ${mtu}`, [attrU32(IFLA_MTU, mtu)]);
  }

  /** Set the link's hardware address (the link should be down). */
  setMac(index: number, mac: string): void {
    this.setLink(index, `link #${index} address ${mac}`, [rtattr(IFLA_ADDRESS, macBytes(mac))]);
  }

  /** Move a link into another netns (given by an open fd). */
  moveToNetns(index: number, netnsFd: number): void {
    this.setLink(index, `link #${index} to netns`, [attrU32(IFLA_NET_NS_FD, netnsFd)]);
  }

  deleteLink(index: number, what = `link #${index}`): void {
    this.request(RTM_DELLINK, 0, ifinfomsg({ index }), 'RTM_DELLINK', what);
  }

  /** Delete link `name` if it exists; returns whether it did. (By name in the request: no lookup before it.) */
  deleteLinkByName(name: string): boolean {
    try {
      this.request(RTM_DELLINK, 0, Buffer.concat([ifinfomsg(), attrStr(IFLA_IFNAME, name)]), 'RTM_DELLINK', name);
    } catch (e) {
      if (e instanceof SyscallError && e.errno === ENODEV) return false; // none by that name (or gone with its veth peer)
      throw e;
    }
    return true;
  }

  // ------------------------------------------------------------- addresses and routes

  /** Add IPv4 `address/prefixLen` to link `index`. */
  addAddress4(index: number, address: string, prefixLen: number): void {
    const attrs = [attrIPv4(IFA_LOCAL, address), attrIPv4(IFA_ADDRESS, address)];
    if (prefixLen < 31) attrs.push(rtattr(IFA_BROADCAST, broadcastOf(address, prefixLen)));
    this.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, Buffer.concat([ifaddrmsg({ family: AF_INET, prefixLen, index }), ...attrs]),
      'RTM_NEWADDR', `${address}/${prefixLen} on link #${index}`);
  }

  listAddresses4(): AddrInfo[] {
    return this.request(RTM_GETADDR, NLM_F_DUMP, ifaddrmsg({ family: AF_INET, prefixLen: 0, index: 0 }), 'RTM_GETADDR', 'dump')
      .map((m) => parseAddr(m.payload));
  }

  /** Default IPv4 route via `gateway` (on link `oif` when given) in the main table. */
  addDefaultRoute4(gateway: string, oif?: number): void {
    const attrs = [attrIPv4(RTA_GATEWAY, gateway)];
    if (oif !== undefined) attrs.push(attrU32(RTA_OIF, oif));
    const msg = rtmsg({ family: AF_INET, table: RT_TABLE_MAIN, protocol: RTPROT_BOOT, scope: RT_SCOPE_UNIVERSE, type: RTN_UNICAST });
    this.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, Buffer.concat([msg, ...attrs]), 'RTM_NEWROUTE', `default via ${gateway}`);
  }

  /** IPv4 routes of the main table. */
  listRoutes4(): RouteInfo[] {
    return this.request(RTM_GETROUTE, NLM_F_DUMP, rtmsg({ family: AF_INET }), 'RTM_GETROUTE', 'dump')
      .map((m) => parseRoute(m.payload))
      .filter((r) => r.family === AF_INET && r.table === RT_TABLE_MAIN);
  }
}

function broadcastOf(address: string, prefixLen: number): Buffer {
  const ip = ipv4Bytes(address).readUInt32BE(0);
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32BE((ip | ~mask) >>> 0, 0);
  return b;
}

/** Open a socket, run `fn`, close it. */
export function withRtnl<T>(fn: (nl: Rtnl) => T, netns?: NetnsTarget): T {
  const nl = Rtnl.open(netns);
  try {
    return fn(nl);
  } finally {
    nl.close();
  }
}
