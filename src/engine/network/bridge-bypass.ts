// Container-to-container unicast that never crosses the bridge (bypass-program.ts says why: a host where Docker
// runs hands bridged IPv4 to iptables, whose FORWARD policy there is DROP; we never edit others' rules).
// Per network: one hash map (container MAC → its host-side veth) and one program reading it, in one cls_bpf filter
// of a shared tc block; every host-side veth of the network gets an ingress qdisc whose filters are that block's. So a
// join is two calls (the qdisc, a map update), a leave one (a map delete; the qdisc goes with the veth), whatever
// the number of containers, and each frame costs one hash lookup. The kernel objects outlive the daemon: containers
// keep talking while it is down; at its next start each network gets a fresh map filled from the records and a
// fresh program swapped in for the old one, so nothing stale survives.
import { createHash } from 'node:crypto';
import { BPF_PROG_TYPE_SCHED_CLS, createHashMap, loadProgram, mapDelete, mapUpdate } from '../../sys/bpf.js';
import { sysClose } from '../../sys/ffi.js';
import { macBytes } from '../../sys/netlink-codec.js';
import { withRtnl, type Rtnl } from '../../sys/netlink.js';
import { addIngressBlock, setBpfFilter } from '../../sys/tc.js';
import { BYPASS_KEY_SIZE, BYPASS_VALUE_SIZE, encodeBypassProgram } from './bypass-program.js';

/** Containers one network's map holds; past it, further ones talk through the bridge (256 KiB of buckets at most). */
export const MAX_BYPASS_ENTRIES = 16384;
const FILTER_PRIO = 1;
const FILTER_HANDLE = 1;
export const BYPASS_PROGRAM_NAME = 'gantry_bypass';

/** The shared tc block of a bridge's network: a hash of its name (names carry the daemon's link prefix), never 0. */
export function bypassBlockIndex(bridge: string): number {
  return (createHash('sha256').update(`bypass/${bridge}`).digest().readUInt32LE(0) % 0xfffffffe) + 1;
}

/** Map capacity for a subnet: its addresses, at most MAX_BYPASS_ENTRIES. */
export function bypassCapacity(prefixLen: number): number {
  return Math.min(2 ** Math.max(32 - prefixLen, 2), MAX_BYPASS_ENTRIES);
}

export interface BypassMember {
  hostIfIndex: number;
  mac: string;
}

interface NetworkBypass {
  block: number;
  mapFd: number;
  progFd: number;
  /** Members this daemon added (or adopted); at 0 the block may be gone with the last veth. */
  members: number;
  /** The filter is known to sit in the block (set at the first join after the block may have gone). */
  filterSet: boolean;
}

const value = (ifindex: number): Buffer => {
  const b = Buffer.alloc(BYPASS_VALUE_SIZE);
  b.writeUInt32LE(ifindex, 0);
  return b;
};

export class BridgeBypass {
  private readonly nets = new Map<string, NetworkBypass>();

  /** Loads a program over a throw-away map: throws when this kernel (or its policy) refuses the bypass. */
  static probe(): void {
    const mapFd = createHashMap(BYPASS_KEY_SIZE, BYPASS_VALUE_SIZE, 4, 'gantry_probe');
    try {
      sysClose(loadProgram(BPF_PROG_TYPE_SCHED_CLS, encodeBypassProgram(mapFd), BYPASS_PROGRAM_NAME, 'bridge bypass probe'));
    } finally {
      sysClose(mapFd);
    }
  }

  private fresh(bridge: string, capacity: number): NetworkBypass {
    const mapFd = createHashMap(BYPASS_KEY_SIZE, BYPASS_VALUE_SIZE, capacity, 'gantry_macs');
    try {
      const progFd = loadProgram(BPF_PROG_TYPE_SCHED_CLS, encodeBypassProgram(mapFd), BYPASS_PROGRAM_NAME, `bridge bypass of ${bridge}`);
      return { block: bypassBlockIndex(bridge), mapFd, progFd, members: 0, filterSet: false };
    } catch (e) {
      sysClose(mapFd);
      throw e;
    }
  }

  private setFilter(nl: Rtnl, bridge: string, n: NetworkBypass): void {
    setBpfFilter(nl, { block: n.block, prio: FILTER_PRIO, handle: FILTER_HANDLE, progFd: n.progFd, name: `${BYPASS_PROGRAM_NAME}_${bridge}` });
    n.filterSet = true;
  }

  /**
   * A container's veth (up, on the bridge) joins its network's bypass: frames from it go straight to the network's
   * other containers, and theirs to it. Answers false when the map is full (this one then talks through the bridge).
   */
  join(bridge: string, capacity: number, member: BypassMember): boolean {
    let n = this.nets.get(bridge);
    if (n === undefined) {
      n = this.fresh(bridge, capacity);
      this.nets.set(bridge, n);
    }
    const net = n;
    withRtnl((nl) => {
      addIngressBlock(nl, member.hostIfIndex, net.block);
      if (!net.filterSet) this.setFilter(nl, bridge, net);
    });
    try {
      mapUpdate(net.mapFd, macBytes(member.mac), value(member.hostIfIndex), `bypass map of ${bridge}`);
    } catch (e) {
      if ((e as { errnoName?: string }).errnoName === 'E2BIG') return false;
      throw e;
    }
    net.members++;
    return true;
  }

  /** Before its veth goes: frames for this MAC take the bridge again. */
  leave(bridge: string, mac: string): void {
    const n = this.nets.get(bridge);
    if (n === undefined) return;
    if (!mapDelete(n.mapFd, macBytes(mac), `bypass map of ${bridge}`)) return;
    n.members--;
    if (n.members <= 0) {
      n.members = 0;
      n.filterSet = false; // the block goes with the last qdisc using it; the next join puts the filter back
    }
  }

  /**
   * After a daemon restart: a fresh map with the live members, their qdiscs ensured (veths made by an older build
   * have none), and the fresh program swapped in for whatever filter the block held.
   */
  adopt(bridge: string, capacity: number, members: readonly BypassMember[]): void {
    this.forget(bridge);
    const n = this.fresh(bridge, capacity);
    this.nets.set(bridge, n);
    for (const m of members) {
      mapUpdate(n.mapFd, macBytes(m.mac), value(m.hostIfIndex), `bypass map of ${bridge}`);
      n.members++;
    }
    if (members.length === 0) return;
    withRtnl((nl) => {
      for (const m of members) addIngressBlock(nl, m.hostIfIndex, n.block);
      this.setFilter(nl, bridge, n);
    });
  }

  /** The network is gone (its veths and so its block went before): our handles on its map and program are closed. */
  forget(bridge: string): void {
    const n = this.nets.get(bridge);
    if (n === undefined) return;
    this.nets.delete(bridge);
    sysClose(n.progFd);
    sysClose(n.mapFd);
  }

  /** Daemon shutdown: the filters keep their programs and maps in the kernel; only our fds are closed. */
  close(): void {
    for (const bridge of [...this.nets.keys()]) this.forget(bridge);
  }
}
