// cgroup v2 has no devices.allow: a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup decides each access.
// This module turns the same rule list v1 writes into that program's instructions (pure data, no I/O); src/sys/bpf.ts
// loads and attaches it.
import type { DeviceRule } from './types.js';

/** One eBPF instruction (struct bpf_insn). */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  /** Signed 16-bit: field offset, or a jump distance in instructions after this one. */
  off: number;
  /** Signed 32-bit immediate. */
  imm: number;
}

// Opcodes used (linux/bpf_common.h, linux/bpf.h).
export const OP = {
  LDX_MEM_W: 0x61, // dst = *(u32 *)(src + off)
  ALU64_AND_K: 0x57, // dst &= imm
  ALU64_RSH_K: 0x77, // dst >>= imm
  ALU64_MOV_K: 0xb7, // dst = imm
  ALU64_MOV_X: 0xbf, // dst = src
  JMP_JNE_K: 0x55, // if dst != imm: pc += off
  JMP_EXIT: 0x95, // return r0
} as const;

// struct bpf_cgroup_dev_ctx { u32 access_type /* (access << 16) | type */; u32 major; u32 minor; }
export const DEVCG_DEV_BLOCK = 1;
export const DEVCG_DEV_CHAR = 2;
export const DEVCG_ACC_MKNOD = 1;
export const DEVCG_ACC_READ = 2;
export const DEVCG_ACC_WRITE = 4;

const insn = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });

function accessMask(access: string): number {
  return (access.includes('m') ? DEVCG_ACC_MKNOD : 0) | (access.includes('r') ? DEVCG_ACC_READ : 0) | (access.includes('w') ? DEVCG_ACC_WRITE : 0);
}

/**
 * The program: registers r2 = type, r3 = requested access bits, r4 = major, r5 = minor; then one block per rule
 * that returns 1 (allow) when the device matches and every requested bit is granted; past the last block, 0
 * (the kernel answers EPERM). Like v1's list over deny-all: allowed = some rule allows it.
 */
export function deviceProgram(rules: readonly DeviceRule[]): BpfInsn[] {
  const out: BpfInsn[] = [
    insn(OP.LDX_MEM_W, 2, 1, 0, 0),
    insn(OP.ALU64_AND_K, 2, 0, 0, 0xffff),
    insn(OP.LDX_MEM_W, 3, 1, 0, 0),
    insn(OP.ALU64_RSH_K, 3, 0, 0, 16),
    insn(OP.LDX_MEM_W, 4, 1, 4, 0),
    insn(OP.LDX_MEM_W, 5, 1, 8, 0),
  ];
  for (const rule of rules) {
    const granted = accessMask(rule.access);
    if (granted === 0) continue;
    // Each test jumps to the end of this block when it fails; the distances are filled in once its length is known.
    const block: Array<{ insn: BpfInsn; skips: boolean }> = [];
    if (rule.type !== 'a') block.push({ insn: insn(OP.JMP_JNE_K, 2, 0, 0, rule.type === 'b' ? DEVCG_DEV_BLOCK : DEVCG_DEV_CHAR), skips: true });
    if (granted !== 7) {
      block.push({ insn: insn(OP.ALU64_MOV_X, 1, 3, 0, 0), skips: false });
      block.push({ insn: insn(OP.ALU64_AND_K, 1, 0, 0, ~granted & 7), skips: false });
      block.push({ insn: insn(OP.JMP_JNE_K, 1, 0, 0, 0), skips: true });
    }
    if (rule.major !== '*') block.push({ insn: insn(OP.JMP_JNE_K, 4, 0, 0, rule.major), skips: true });
    if (rule.minor !== '*') block.push({ insn: insn(OP.JMP_JNE_K, 5, 0, 0, rule.minor), skips: true });
    block.push({ insn: insn(OP.ALU64_MOV_K, 0, 0, 0, 1), skips: false }, { insn: insn(OP.JMP_EXIT, 0, 0, 0, 0), skips: false });
    block.forEach((b, i) => {
      if (b.skips) b.insn.off = block.length - i - 1;
      out.push(b.insn);
    });
    // Everything is allowed: what follows could never run, and the verifier refuses unreachable instructions.
    if (rule.type === 'a' && rule.major === '*' && rule.minor === '*' && granted === 7) return out;
  }
  out.push(insn(OP.ALU64_MOV_K, 0, 0, 0, 0), insn(OP.JMP_EXIT, 0, 0, 0, 0));
  return out;
}

/** The instructions as the kernel reads them: 8 bytes each, little-endian (x86-64, arm64). */
export function encodeProgram(prog: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    buf.writeUInt8(p.code, i * 8);
    buf.writeUInt8((p.src << 4) | p.dst, i * 8 + 1);
    buf.writeInt16LE(p.off, i * 8 + 2);
    buf.writeInt32LE(p.imm, i * 8 + 4);
  });
  return buf;
}
