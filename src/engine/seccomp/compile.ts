// A resolved filter → a classic BPF program (struct sock_filter[]), as seccomp(2) loads it.
//
// Layout: seccomp_data.arch picks a section (the native ABI first, then i386 when the profile names it; any other
// ABI kills the process, libseccomp's bad-arch action). The native section refuses x32 (nr & 0x40000000, as
// libseccomp does when x32 is not in the filter; -1 gets the default action). Each section is a binary search on
// the syscall number over intervals that share one outcome; a leaf is a `ret`, or the argument checks of one
// syscall. Every conditional jump of the tree goes 0 or 1 instructions ahead (`jge K, 0, 1` then `ja RIGHT`: JA
// has a 32-bit offset), so programs of any size need no jump longer than 255. On a 64-bit ABI each argument
// comparison looks at the high then the low 32-bit half (little-endian: the low half comes first in
// seccomp_data); on a 32-bit one only at the low half, as libseccomp does.
import type { SeccompArg } from './profile.js';
import { SECCOMP_RET, type ResolvedFilter, type ResolvedRule, type ResolvedSection } from './rules.js';

export interface SockFilter { code: number; jt: number; jf: number; k: number }

export const BPF = {
  LD_W_ABS: 0x20, JEQ_K: 0x15, JGT_K: 0x25, JGE_K: 0x35, JA: 0x05, RET_K: 0x06, AND_K: 0x54,
} as const;

/** Offsets in struct seccomp_data. */
export const SECCOMP_DATA = { NR: 0, ARCH: 4, ARG0: 16 } as const;
const X32_SYSCALL_BIT = 0x40000000;
/** The kernel's limit on a filter's length. */
export const BPF_MAXINSNS = 4096;

type Target = number | Label; // a number: relative (0 = next instruction)
class Label { at = -1; }

interface Insn { code: number; jt: Target; jf: Target; k: number | Label }

class Assembler {
  readonly insns: Insn[] = [];
  emit(code: number, k: number | Label, jt: Target = 0, jf: Target = 0): void { this.insns.push({ code, jt, jf, k }); }
  ld(offset: number): void { this.emit(BPF.LD_W_ABS, offset); }
  ret(value: number): void { this.emit(BPF.RET_K, value); }
  ja(to: Label): void { this.emit(BPF.JA, to); }
  place(l: Label): void { l.at = this.insns.length; }
  assemble(): SockFilter[] {
    return this.insns.map((ins, pc) => {
      const rel = (t: Target | number, long: boolean): number => {
        if (typeof t === 'number') return t;
        if (t.at < 0) throw new Error('seccomp compiler: label never placed');
        const d = t.at - pc - 1;
        if (d < 0 || (!long && d > 255)) throw new Error(`seccomp compiler: jump of ${d} at ${pc}`);
        return d;
      };
      return { code: ins.code, jt: rel(ins.jt, false), jf: rel(ins.jf, false), k: ins.k instanceof Label ? rel(ins.k, true) : ins.k >>> 0 };
    });
  }
}

const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);
const lo32 = (v: bigint): number => Number(v & 0xffffffffn);

/** Jumps to `fail` unless the condition holds; falls through when it does. `wide`: a 64-bit ABI (both halves). */
function condition(a: Assembler, c: SeccompArg, fail: Label, wide: boolean): void {
  const hi = SECCOMP_DATA.ARG0 + 8 * c.index + 4;
  const lo = SECCOMP_DATA.ARG0 + 8 * c.index;
  const ok = new Label();
  const vh = hi32(c.value);
  const vl = lo32(c.value);
  if (wide) {
    // the high half: equal goes on to the low half; otherwise it decides (EQ/MASKED_EQ fail, NE holds, the order
    // comparisons hold or fail by which side is above)
    a.ld(hi);
    if (c.op === 'SCMP_CMP_MASKED_EQ') {
      a.emit(BPF.AND_K, vh); a.emit(BPF.JEQ_K, hi32(c.valueTwo), 0, fail);
    } else if (c.op === 'SCMP_CMP_EQ') {
      a.emit(BPF.JEQ_K, vh, 0, fail);
    } else if (c.op === 'SCMP_CMP_NE') {
      a.emit(BPF.JEQ_K, vh, 0, ok);
    } else if (c.op === 'SCMP_CMP_GT' || c.op === 'SCMP_CMP_GE') {
      a.emit(BPF.JGT_K, vh, ok, 0); a.emit(BPF.JEQ_K, vh, 0, fail);
    } else {
      a.emit(BPF.JGT_K, vh, fail, 0); a.emit(BPF.JEQ_K, vh, 0, ok);
    }
  }
  a.ld(lo);
  switch (c.op) {
    case 'SCMP_CMP_EQ': a.emit(BPF.JEQ_K, vl, 0, fail); break;
    case 'SCMP_CMP_NE': a.emit(BPF.JEQ_K, vl, fail, 0); break;
    case 'SCMP_CMP_MASKED_EQ': a.emit(BPF.AND_K, vl); a.emit(BPF.JEQ_K, lo32(c.valueTwo), 0, fail); break;
    case 'SCMP_CMP_GT': a.emit(BPF.JGT_K, vl, 0, fail); break;
    case 'SCMP_CMP_GE': a.emit(BPF.JGE_K, vl, 0, fail); break;
    case 'SCMP_CMP_LT': a.emit(BPF.JGE_K, vl, fail, 0); break;
    case 'SCMP_CMP_LE': a.emit(BPF.JGT_K, vl, fail, 0); break;
  }
  a.place(ok);
}

/** The rules of one syscall: the first whose conditions hold returns its action, else the default. */
function syscallBlock(a: Assembler, rules: readonly ResolvedRule[], defaultRet: number, wide: boolean): void {
  for (const rule of rules) {
    const next = new Label();
    for (const c of rule.conditions) condition(a, c, next, wide);
    a.ret(rule.ret);
    a.place(next);
    if (rule.conditions.length === 0) return;
  }
  a.ret(defaultRet);
}

interface Interval { start: number; rules?: readonly ResolvedRule[] | undefined; ret: number }

/** [0, 2^30) cut into runs of syscall numbers with one outcome (neighbouring runs of one `ret` value merged). */
function intervals(f: ResolvedSection, defaultRet: number): Interval[] {
  const out: Interval[] = [];
  const add = (iv: Interval): void => {
    const last = out[out.length - 1];
    if (last && last.rules === undefined && iv.rules === undefined && last.ret === iv.ret) return;
    out.push(iv);
  };
  let next = 0;
  for (const nr of [...f.bySyscall.keys()].sort((x, y) => x - y)) {
    if (nr > next) add({ start: next, ret: defaultRet });
    const rules = f.bySyscall.get(nr) ?? [];
    const only = rules.length === 1 ? rules[0] : undefined;
    add(only !== undefined && only.conditions.length === 0 ? { start: nr, ret: only.ret } : { start: nr, rules, ret: defaultRet });
    next = nr + 1;
  }
  add({ start: next, ret: defaultRet });
  return out;
}

function tree(a: Assembler, ivs: readonly Interval[], lo: number, hi: number, defaultRet: number, wide: boolean): void {
  if (lo === hi) {
    const iv = ivs[lo];
    if (iv === undefined) throw new Error('seccomp compiler: empty interval');
    if (iv.rules === undefined) a.ret(iv.ret);
    else syscallBlock(a, iv.rules, defaultRet, wide);
    return;
  }
  const mid = (lo + hi + 1) >> 1;
  const right = new Label();
  a.emit(BPF.JGE_K, ivs[mid]?.start ?? 0, 0, 1); // nr >= split: the `ja` below; else the left half
  a.ja(right);
  tree(a, ivs, lo, mid - 1, defaultRet, wide);
  a.place(right);
  tree(a, ivs, mid, hi, defaultRet, wide);
}

export function compileFilter(f: ResolvedFilter): SockFilter[] {
  const a = new Assembler();
  const starts = f.sections.map(() => new Label());
  a.ld(SECCOMP_DATA.ARCH);
  f.sections.forEach((sec, i) => {
    a.emit(BPF.JEQ_K, sec.arch.auditArch, 0, 1);
    a.ja(starts[i]!);
  });
  a.ret(SECCOMP_RET.KILL_PROCESS);
  f.sections.forEach((sec, i) => {
    a.place(starts[i]!);
    a.ld(SECCOMP_DATA.NR);
    if (sec.arch.bits === 64) {
      // x32 (and any number past it) kills, but for -1: a syscall a tracer skipped, which gets the default
      a.emit(BPF.JGE_K, X32_SYSCALL_BIT, 0, 3);
      a.emit(BPF.JEQ_K, 0xffffffff, 0, 1);
      a.ret(f.defaultRet);
      a.ret(SECCOMP_RET.KILL_PROCESS);
    }
    const ivs = intervals(sec, f.defaultRet);
    tree(a, ivs, 0, ivs.length - 1, f.defaultRet, sec.arch.bits === 64);
  });
  const prog = a.assemble();
  if (prog.length > BPF_MAXINSNS) {
    throw new Error(`seccomp compiler: ${prog.length} instructions, the kernel takes at most ${BPF_MAXINSNS}`);
  }
  return prog;
}

/** struct sock_filter[] in the host's byte order (little-endian on x86_64): u16 code, u8 jt, u8 jf, u32 k. */
export function encodeFilter(prog: readonly SockFilter[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((ins, i) => {
    buf.writeUInt16LE(ins.code, i * 8);
    buf.writeUInt8(ins.jt, i * 8 + 2);
    buf.writeUInt8(ins.jf, i * 8 + 3);
    buf.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
  });
  return buf;
}
