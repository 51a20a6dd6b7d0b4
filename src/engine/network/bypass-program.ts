// The tc program of the bridge bypass (pure data, no I/O; src/sys/bpf.ts loads it, src/sys/tc.ts attaches it).
// It runs at the ingress of every host-side veth of one network: a frame whose destination MAC is a container of
// that network (a key of the network's hash map: 6-byte MAC → u32 ifindex of that container's host-side veth) is
// sent out of that veth with bpf_redirect, so it never crosses the bridge — and never meets br_netfilter, which is
// what hands bridged IPv4 to iptables' FORWARD chain on a host where Docker runs. Everything else (broadcast,
// ARP requests, frames for the gateway or for MACs the map does not hold) continues to the bridge untouched.
import { encodeProgram, type BpfInsn } from '../cgroups/bpf-devices.js';

// struct __sk_buff offsets (linux/bpf.h).
const SKB_DATA = 76;
const SKB_DATA_END = 80;
const BPF_FUNC_MAP_LOOKUP_ELEM = 1;
const BPF_FUNC_REDIRECT = 23;
const BPF_PSEUDO_MAP_FD = 1;
/** "No verdict": the frame goes on as if there were no filter (to the bridge). */
const TC_ACT_UNSPEC = -1;

/** Map key: the destination MAC (6 bytes, as on the wire). */
export const BYPASS_KEY_SIZE = 6;
/** Map value: the host-side veth's ifindex (u32, host byte order). */
export const BYPASS_VALUE_SIZE = 4;

const op = {
  LD_IMM64: 0x18, // dst = imm64 (two instructions); src 1: imm is a map fd
  LDX_W: 0x61, // dst = *(u32 *)(src + off)
  LDX_H: 0x69, // dst = *(u16 *)(src + off)
  STX_H: 0x6b, // *(u16 *)(dst + off) = src
  ADD_K: 0x07, // dst += imm
  MOV_K: 0xb7, // dst = imm
  MOV_X: 0xbf, // dst = src
  JGT_X: 0x2d, // if dst > src: pc += off
  JEQ_K: 0x15, // if dst == imm: pc += off
  CALL: 0x85,
  EXIT: 0x95,
} as const;

const i = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });

/** The program, with the network's map fd built in. */
export function bypassProgram(mapFd: number): BpfInsn[] {
  const prog = [
    i(op.LDX_W, 2, 1, SKB_DATA, 0), // r2 = start of the Ethernet header (cls_bpf pushes it back at ingress)
    i(op.LDX_W, 3, 1, SKB_DATA_END, 0),
    i(op.MOV_X, 4, 2, 0, 0),
    i(op.ADD_K, 4, 0, 0, 6),
    i(op.JGT_X, 4, 3, 0, 0), // shorter than a MAC: pass (offset set below)
    i(op.LDX_H, 5, 2, 0, 0), // key on the stack at r10-8: the destination MAC, 2 bytes at a time
    i(op.STX_H, 10, 5, -8, 0),
    i(op.LDX_H, 5, 2, 2, 0),
    i(op.STX_H, 10, 5, -6, 0),
    i(op.LDX_H, 5, 2, 4, 0),
    i(op.STX_H, 10, 5, -4, 0),
    i(op.LD_IMM64, 1, BPF_PSEUDO_MAP_FD, 0, mapFd),
    i(0, 0, 0, 0, 0),
    i(op.MOV_X, 2, 10, 0, 0),
    i(op.ADD_K, 2, 0, 0, -8),
    i(op.CALL, 0, 0, 0, BPF_FUNC_MAP_LOOKUP_ELEM),
    i(op.JEQ_K, 0, 0, 0, 0), // not a container of this network: pass (offset set below)
    i(op.LDX_W, 1, 0, 0, 0), // r1 = its veth's ifindex
    i(op.MOV_K, 2, 0, 0, 0), // flags 0: out of that link (egress), to the container
    i(op.CALL, 0, 0, 0, BPF_FUNC_REDIRECT), // r0 = TC_ACT_REDIRECT
    i(op.EXIT, 0, 0, 0, 0),
  ];
  const pass = prog.length;
  prog.push(i(op.MOV_K, 0, 0, 0, TC_ACT_UNSPEC), i(op.EXIT, 0, 0, 0, 0));
  for (const [n, insn] of prog.entries()) {
    if (insn.code === op.JGT_X || insn.code === op.JEQ_K) insn.off = pass - n - 1;
  }
  return prog;
}

export const encodeBypassProgram = (mapFd: number): Buffer => encodeProgram(bypassProgram(mapFd));
