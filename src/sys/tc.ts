// Traffic control over rtnetlink: an ingress qdisc whose filters are those of a shared filter block, and cls_bpf filters
// in such a block (RTM_NEWQDISC / RTM_NEWTFILTER), built and parsed here. The kernel's layouts: linux/rtnetlink.h
// (struct tcmsg, TCA_*), linux/pkt_sched.h (TC_H_*), linux/pkt_cls.h (TCA_BPF_*). No `tc` process.
import { SyscallError } from './ffi.js';
import type { Rtnl } from './netlink.js';
import { attrNest, attrStr, attrU32, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, parseAttrs, type NlMessage } from './netlink-codec.js';

export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;

export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_INGRESS_BLOCK = 13;

/** The ingress (and clsact) qdisc's parent and handle. */
export const TC_H_INGRESS = 0xfffffff1;
export const TC_H_INGRESS_HANDLE = 0xffff0000;
/** tcm_ifindex of a filter request addressed to a shared block (tcm_parent then holds the block index). */
export const TCM_IFINDEX_MAGIC_BLOCK = 0xffffffff;
/** ETH_P_ALL in network order, as tcm_info's low 16 bits want it. */
export const ETH_P_ALL_BE = 0x0300;

export const TCA_BPF_FD = 6;
export const TCA_BPF_NAME = 7;
export const TCA_BPF_FLAGS = 8;
export const TCA_BPF_ID = 11;
/** The program's return value is the action (TC_ACT_*): no separate action attached. */
export const TCA_BPF_FLAG_ACT_DIRECT = 1;

const EEXIST = 17;

export interface TcMsg {
  ifindex: number;
  handle: number;
  parent: number;
  info: number;
}

/** struct tcmsg (20 bytes); unsigned fields, so the block's magic ifindex and TC_H_* fit. */
export function tcmsg(m: TcMsg): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt8(0, 0); // AF_UNSPEC
  b.writeUInt32LE(m.ifindex >>> 0, 4);
  b.writeUInt32LE(m.handle >>> 0, 8);
  b.writeUInt32LE(m.parent >>> 0, 12);
  b.writeUInt32LE(m.info >>> 0, 16);
  return b;
}

/**
 * An ingress qdisc on link `ifindex` whose filters are those of shared block `block` (made with its first user).
 * Not clsact: its egress side (a tc block of its own per link, never used here) cost ~6 kB of kernel memory per
 * link (bench/veth-memory.mjs).
 */
export function ingressWithBlock(ifindex: number, block: number): Buffer {
  return Buffer.concat([
    tcmsg({ ifindex, handle: TC_H_INGRESS_HANDLE, parent: TC_H_INGRESS, info: 0 }),
    attrStr(TCA_KIND, 'ingress'),
    attrU32(TCA_INGRESS_BLOCK, block),
  ]);
}

export interface BpfFilterSpec {
  block: number;
  /** Priority (1 = first) and handle: together they name the filter in its block. */
  prio: number;
  handle: number;
  progFd: number;
  /** Shown by `tc filter show`. */
  name: string;
}

/** A cls_bpf filter in direct-action mode in a shared block, matching every protocol. */
export function bpfFilterInBlock(f: BpfFilterSpec): Buffer {
  return Buffer.concat([
    tcmsg({ ifindex: TCM_IFINDEX_MAGIC_BLOCK, handle: f.handle, parent: f.block, info: ((f.prio << 16) | ETH_P_ALL_BE) >>> 0 }),
    attrStr(TCA_KIND, 'bpf'),
    attrNest(TCA_OPTIONS, attrU32(TCA_BPF_FD, f.progFd), attrStr(TCA_BPF_NAME, f.name), attrU32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT)),
  ]);
}

export interface FilterInfo {
  block: number;
  prio: number;
  handle: number;
  kind: string | undefined;
  /** cls_bpf: the loaded program's id and name. */
  bpfId: number | undefined;
  bpfName: string | undefined;
}

const cstr = (b: Buffer | undefined): string | undefined => (b === undefined ? undefined : b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)).toString('utf8'));

export function parseFilter(payload: Buffer): FilterInfo {
  const attrs = parseAttrs(payload, 20);
  const get = (list: typeof attrs, type: number): Buffer | undefined => list.find((a) => a.type === type)?.data;
  const options = get(attrs, TCA_OPTIONS);
  const opts = options === undefined ? [] : parseAttrs(options);
  const id = get(opts, TCA_BPF_ID);
  return {
    block: payload.readUInt32LE(12),
    handle: payload.readUInt32LE(8),
    prio: payload.readUInt32LE(16) >>> 16,
    kind: cstr(get(attrs, TCA_KIND)),
    bpfId: id !== undefined && id.length >= 4 ? id.readUInt32LE(0) : undefined,
    bpfName: cstr(get(opts, TCA_BPF_NAME)),
  };
}

/**
 * Adds the ingress qdisc; false when the link already has one, or a clsact (veths of an earlier daemon; the kernel
 * answers EEXIST).
 */
export function addIngressBlock(nl: Rtnl, ifindex: number, block: number): boolean {
  try {
    nl.request(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ingressWithBlock(ifindex, block), 'RTM_NEWQDISC', `ingress qdisc on link #${ifindex} (block ${block})`);
    return true;
  } catch (e) {
    if (e instanceof SyscallError && e.errno === EEXIST) return false;
    throw e;
  }
}

/** Puts the filter in place, replacing one with the same prio and handle (the swap is atomic for packets). */
export function setBpfFilter(nl: Rtnl, f: BpfFilterSpec): void {
  nl.request(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_REPLACE, bpfFilterInBlock(f), 'RTM_NEWTFILTER', `bpf filter ${f.name} in block ${f.block}`);
}

/** The filters of a shared block (an empty list when the block does not exist). */
export function listBlockFilters(nl: Rtnl, block: number): FilterInfo[] {
  let replies: NlMessage[];
  try {
    replies = nl.request(RTM_GETTFILTER, NLM_F_DUMP, tcmsg({ ifindex: TCM_IFINDEX_MAGIC_BLOCK, handle: 0, parent: block, info: 0 }), 'RTM_GETTFILTER', `block ${block}`);
  } catch (e) {
    if (e instanceof SyscallError && (e.errnoName === 'EINVAL' || e.errnoName === 'ENOENT')) return [];
    throw e;
  }
  // Each classifier comes first as an entry of its own with handle 0 (tc's "filter protocol all pref 1 bpf chain 0").
  return replies.filter((m) => m.type === RTM_NEWTFILTER).map((m) => parseFilter(m.payload)).filter((f) => f.kind !== undefined && f.handle !== 0);
}
