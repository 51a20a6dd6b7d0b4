// A classic BPF interpreter for seccomp programs (the instructions a seccomp filter may use), to run what the
// compiler emits against seccomp_data built in the test.
import type { SockFilter } from '../../../src/engine/seccomp/compile.js';

export interface SeccompData { nr: number; arch: number; args: readonly bigint[] }

/** The 64-byte struct seccomp_data, little-endian. */
function dataBytes(d: SeccompData): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(d.nr >>> 0, 0);
  b.writeUInt32LE(d.arch >>> 0, 4);
  for (let i = 0; i < 6; i++) b.writeBigUInt64LE(d.args[i] ?? 0n, 16 + 8 * i);
  return b;
}

/** Runs the program; throws for anything the kernel's checker would refuse (bad opcode, jump out, no return). */
export function runBpf(prog: readonly SockFilter[], d: SeccompData): number {
  const mem = dataBytes(d);
  let a = 0;
  const x = 0; // no instruction the compiler emits sets X
  for (let pc = 0, steps = 0; pc < prog.length; pc++, steps++) {
    if (steps > prog.length) throw new Error('a backward jump');
    const ins = prog[pc]!;
    const cls = ins.code & 0x07;
    const src = ins.code & 0x08 ? x : ins.k >>> 0;
    const jump = (cond: boolean): void => {
      pc += cond ? ins.jt : ins.jf;
      if (pc + 1 >= prog.length) throw new Error(`jump past the end at ${pc}`);
    };
    switch (ins.code) {
      case 0x20: // ld w abs
        if (ins.k % 4 !== 0 || ins.k + 4 > 64) throw new Error(`load at ${ins.k}`);
        a = mem.readUInt32LE(ins.k);
        break;
      case 0x54: a = (a & src) >>> 0; break; // and
      case 0x05: // ja
        pc += ins.k;
        if (pc + 1 >= prog.length) throw new Error('ja past the end');
        break;
      case 0x15: jump(a === src); break; // jeq
      case 0x25: jump(a > src); break; // jgt
      case 0x35: jump(a >= src); break; // jge
      case 0x45: jump((a & src) !== 0); break; // jset
      case 0x06: return ins.k >>> 0; // ret k
      default: throw new Error(`opcode 0x${ins.code.toString(16)} (class ${cls}) at ${pc}`);
    }
  }
  throw new Error('fell off the end');
}

/** What the kernel checks when a filter is loaded (bpf_check_classic, seccomp_check_filter) for the instructions
 * the compiler emits: 1..4096 instructions, 8-bit jt/jf, every jump inside the program, aligned loads inside
 * seccomp_data, the last instruction a `ret`. Throws naming the first fault. */
export function checkProgram(prog: readonly SockFilter[]): void {
  if (prog.length === 0 || prog.length > 4096) throw new Error(`${prog.length} instructions`);
  prog.forEach((ins, pc) => {
    const inside = (off: number): boolean => Number.isInteger(off) && off >= 0 && pc + 1 + off < prog.length;
    switch (ins.code) {
      case 0x20: if (ins.k % 4 !== 0 || ins.k + 4 > 64) throw new Error(`load at ${ins.k} (${pc})`); break;
      case 0x54: case 0x06: break;
      case 0x05: if (!inside(ins.k)) throw new Error(`ja ${ins.k} out of the program at ${pc}`); break;
      case 0x15: case 0x25: case 0x35: case 0x45:
        if (ins.jt > 255 || ins.jf > 255 || !inside(ins.jt) || !inside(ins.jf)) throw new Error(`jump ${ins.jt}/${ins.jf} at ${pc}`);
        break;
      default: throw new Error(`opcode 0x${ins.code.toString(16)} at ${pc}`);
    }
  });
  if (prog[prog.length - 1]!.code !== 0x06) throw new Error('the last instruction is not a ret');
}

/** The length of the eBPF program the kernel converts a seccomp filter to (bpf_convert_filter) and keeps in the
 * bpf_prog's vmalloc pages: 3 instructions of prologue; `ret k` is mov + exit; a conditional jump is one
 * instruction when jf is 0 (or jt, but for jset), else a jump and a `ja`, plus a mov when k is negative as an s32. */
export function ebpfLength(prog: readonly SockFilter[]): number {
  return prog.reduce((n, ins) => {
    if (ins.code === 0x06) return n + 2;
    if (ins.code === 0x15 || ins.code === 0x25 || ins.code === 0x35 || ins.code === 0x45) {
      const one = ins.jf === 0 || (ins.jt === 0 && ins.code !== 0x45);
      return n + (one ? 1 : 2) + ((ins.k | 0) < 0 ? 1 : 0);
    }
    return n + 1;
  }, 3);
}
