// rtnetlink message building and parsing: pure functions over Buffers (host byte order, little-endian on
// the platforms we run on; IPv4 addresses in attributes are network order). No I/O here; see netlink.ts.

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** On NLMSG_ERROR: the original request is not echoed back (NETLINK_CAP_ACK). */
export const NLM_F_CAPPED = 0x100;
/** On NLMSG_ERROR: extended-ack TLVs follow. */
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const IFF_UP = 0x1;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_PROTINFO = 12;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_PID = 19;
export const IFLA_NET_NS_FD = 28;
export const IFLA_EXT_MASK = 29;
/** IFLA_EXT_MASK: leave the link's counters out of a dump (a third of each message). */
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;
export const IFLA_NUM_TX_QUEUES = 31;
export const IFLA_NUM_RX_QUEUES = 32;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;
/** A nested attribute's type carries this bit where the kernel needs to tell nested from binary (IFLA_PROTINFO). */
export const NLA_F_NESTED = 0x8000;
/** Bridge port attributes (IFLA_PROTINFO of an AF_BRIDGE RTM_SETLINK): u8 flags, and a flush of its fdb entries. */
export const IFLA_BRPORT_LEARNING = 8;
export const IFLA_BRPORT_UNICAST_FLOOD = 9;
export const IFLA_BRPORT_FLUSH = 24;
export const IFLA_BRPORT_MCAST_FLOOD = 27;
export const IFLA_BRPORT_BCAST_FLOOD = 30;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;

export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RTN_UNICAST = 1;

const NLMSG_HDRLEN = 16;
const NLA_TYPE_MASK = 0x3fff;

export const align4 = (n: number): number => (n + 3) & ~3;

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

export interface RtAttr {
  type: number;
  data: Buffer;
}

// ---------------------------------------------------------------- building

/** One netlink message: header + body (the body already padded). */
export function nlmsg(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const len = NLMSG_HDRLEN + body.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(0, 12);
  body.copy(b, NLMSG_HDRLEN);
  return b;
}

/** A route attribute, padded to 4 bytes. */
export function rtattr(type: number, data: Buffer): Buffer {
  const len = 4 + data.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}

export const attrU32 = (type: number, v: number): Buffer => {
  const d = Buffer.alloc(4);
  d.writeUInt32LE(v >>> 0, 0);
  return rtattr(type, d);
};
export const attrS32 = (type: number, v: number): Buffer => {
  const d = Buffer.alloc(4);
  d.writeInt32LE(v, 0);
  return rtattr(type, d);
};
/** NUL-terminated string attribute. */
export const attrStr = (type: number, s: string): Buffer => rtattr(type, Buffer.from(`${s}\0`, 'utf8'));
export const attrU8 = (type: number, v: number): Buffer => rtattr(type, Buffer.from([v & 0xff]));
/** An attribute that is there or not (NLA_FLAG). */
export const attrFlag = (type: number): Buffer => rtattr(type, Buffer.alloc(0));
export const attrNest = (type: number, ...children: Buffer[]): Buffer => rtattr(type, Buffer.concat(children));
export const attrIPv4 = (type: number, ip: string): Buffer => rtattr(type, ipv4Bytes(ip));

export interface IfInfoMsg {
  family?: number;
  type?: number;
  index?: number;
  flags?: number;
  change?: number;
}

export function ifinfomsg(m: IfInfoMsg = {}): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(m.family ?? AF_UNSPEC, 0);
  b.writeUInt16LE(m.type ?? 0, 2);
  b.writeInt32LE(m.index ?? 0, 4);
  b.writeUInt32LE(m.flags ?? 0, 8);
  b.writeUInt32LE(m.change ?? 0, 12);
  return b;
}

export interface IfAddrMsg {
  family: number;
  prefixLen: number;
  flags?: number;
  scope?: number;
  index: number;
}

export function ifaddrmsg(m: IfAddrMsg): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(m.family, 0);
  b.writeUInt8(m.prefixLen, 1);
  b.writeUInt8(m.flags ?? 0, 2);
  b.writeUInt8(m.scope ?? 0, 3);
  b.writeUInt32LE(m.index, 4);
  return b;
}

export interface RtMsg {
  family: number;
  dstLen?: number;
  srcLen?: number;
  tos?: number;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
  flags?: number;
}

export function rtmsg(m: RtMsg): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(m.family, 0);
  b.writeUInt8(m.dstLen ?? 0, 1);
  b.writeUInt8(m.srcLen ?? 0, 2);
  b.writeUInt8(m.tos ?? 0, 3);
  b.writeUInt8(m.table ?? 0, 4);
  b.writeUInt8(m.protocol ?? 0, 5);
  b.writeUInt8(m.scope ?? 0, 6);
  b.writeUInt8(m.type ?? 0, 7);
  b.writeUInt32LE(m.flags ?? 0, 8);
  return b;
}

/** Dotted quad → 4 bytes in network order. Throws a plain Error on bad input (callers validate first). */
export function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  const b = Buffer.alloc(4);
  parts.forEach((p, i) => {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new Error(`not an IPv4 address: ${ip}`);
    b[i] = n;
  });
  return b;
}

export function ipv4String(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

export function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`not a MAC address: ${mac}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function macString(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

// ---------------------------------------------------------------- parsing

/** Split a datagram of `len` bytes into netlink messages. */
export function parseMessages(buf: Buffer, len = buf.length): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= len) {
    const mlen = buf.readUInt32LE(off);
    if (mlen < NLMSG_HDRLEN || off + mlen > len) throw new Error(`malformed netlink message at ${off} (len ${mlen})`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + mlen),
    });
    off += align4(mlen);
  }
  return out;
}

/** Attributes from `off` to the end of `buf` (nested-flag bits masked off the type). */
export function parseAttrs(buf: Buffer, off = 0): RtAttr[] {
  const out: RtAttr[] = [];
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, data: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return out;
}

function attrMap(attrs: RtAttr[]): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of attrs) if (!m.has(a.type)) m.set(a.type, a.data);
  return m;
}

const cstr = (b: Buffer | undefined): string | undefined => {
  if (b === undefined) return undefined;
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
};
const u32 = (b: Buffer | undefined): number | undefined => (b !== undefined && b.length >= 4 ? b.readUInt32LE(0) : undefined);

export interface NlError {
  /** 0 for an ACK, else a positive errno. */
  errno: number;
  /** The kernel's extended-ack text, when it gave one. */
  message: string | undefined;
}

export function parseError(msg: NlMessage): NlError {
  const p = msg.payload;
  const errno = -p.readInt32LE(0) | 0;
  let message: string | undefined;
  if (msg.flags & NLM_F_ACK_TLVS) {
    const origLen = p.length >= 8 ? p.readUInt32LE(4) : 0;
    const tlvOff = 4 + (msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(origLen));
    message = cstr(attrMap(parseAttrs(p, tlvOff)).get(NLMSGERR_ATTR_MSG));
  }
  return { errno, message };
}

export interface LinkInfo {
  index: number;
  name: string;
  /** IFLA_INFO_KIND, e.g. "bridge", "veth"; undefined for plain devices. */
  kind: string | undefined;
  /** Index of the master (bridge) this link is enslaved to. */
  master: number | undefined;
  flags: number;
  up: boolean;
  mtu: number | undefined;
  mac: string | undefined;
}

export function parseLink(payload: Buffer): LinkInfo {
  const index = payload.readInt32LE(4);
  const flags = payload.readUInt32LE(8);
  const a = attrMap(parseAttrs(payload, 16));
  const linkinfo = a.get(IFLA_LINKINFO);
  const kind = linkinfo === undefined ? undefined : cstr(attrMap(parseAttrs(linkinfo)).get(IFLA_INFO_KIND));
  const mac = a.get(IFLA_ADDRESS);
  return {
    index,
    name: cstr(a.get(IFLA_IFNAME)) ?? '',
    kind,
    master: u32(a.get(IFLA_MASTER)),
    flags,
    up: (flags & IFF_UP) !== 0,
    mtu: u32(a.get(IFLA_MTU)),
    mac: mac !== undefined && mac.length === 6 ? macString(mac) : undefined,
  };
}

export interface AddrInfo {
  index: number;
  family: number;
  prefixLen: number;
  address: string | undefined;
  local: string | undefined;
  label: string | undefined;
}

export function parseAddr(payload: Buffer): AddrInfo {
  const a = attrMap(parseAttrs(payload, 8));
  const family = payload.readUInt8(0);
  const ip = (b: Buffer | undefined): string | undefined => (b !== undefined && b.length === 4 ? ipv4String(b) : undefined);
  return {
    family,
    prefixLen: payload.readUInt8(1),
    index: payload.readUInt32LE(4),
    address: ip(a.get(IFA_ADDRESS)),
    local: ip(a.get(IFA_LOCAL)),
    label: cstr(a.get(IFA_LABEL)),
  };
}

export interface RouteInfo {
  family: number;
  /** Destination network ("0.0.0.0" for the default route). */
  dst: string;
  dstLen: number;
  gateway: string | undefined;
  oif: number | undefined;
  table: number;
  protocol: number;
  scope: number;
  type: number;
}

export function parseRoute(payload: Buffer): RouteInfo {
  const a = attrMap(parseAttrs(payload, 12));
  const ip = (b: Buffer | undefined): string | undefined => (b !== undefined && b.length === 4 ? ipv4String(b) : undefined);
  return {
    family: payload.readUInt8(0),
    dstLen: payload.readUInt8(1),
    table: u32(a.get(RTA_TABLE)) ?? payload.readUInt8(4),
    protocol: payload.readUInt8(5),
    scope: payload.readUInt8(6),
    type: payload.readUInt8(7),
    dst: ip(a.get(RTA_DST)) ?? '0.0.0.0',
    gateway: ip(a.get(RTA_GATEWAY)),
    oif: u32(a.get(RTA_OIF)),
  };
}
