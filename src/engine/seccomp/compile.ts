// A resolved filter → a classic BPF program (struct sock_filter[]), as seccomp(2) loads it.
//
// Layout: seccomp_data.arch picks a section (the native ABI first, then i386 when the profile names it; any other
// ABI kills the process, libseccomp's bad-arch action). The native section refuses x32 (nr & 0x40000000, as
// libseccomp does when x32 is not in the filter; -1 gets the default action). Each section is a binary search on
// the syscall number over runs that share one outcome. A run that only returns is no code: the jumps to it go to
// the section's shared `ret` of that value (one per value, after the section's code); a number alone inside a run
// (an allowed syscall between refused ones) is one `jeq` in the run's leaf instead of two more runs; a syscall
// with argument checks is a block of its own. A conditional jump goes straight to both targets while they are
// within 255 instructions; one farther gets an instruction of its own right after the jump, a `ja` (32-bit
// offset) or its `ret` inlined (`assemble`), so programs of any size up to BPF_MAXINSNS assemble. On a 64-bit ABI
// each argument comparison looks at the high then the low 32-bit half (little-endian: the low half comes first
// in seccomp_data); on a 32-bit one only at the low half, as libseccomp does.
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

/** Where a jump goes: the next instruction, a placed label, or a `ret` of this value (one shared per section). */
type Target = Label | Ret | typeof NEXT;
const NEXT = 'next';
class Label { item = -1; }
class Ret { constructor(readonly value: number) {} }

/** An instruction as emitted: a conditional jump's targets are resolved (and the jump lengthened when one is
 * farther than 255) by `assemble`. */
interface Item { code: number; k: number; jt?: Resolved; jf?: Resolved }
/** A target as the assembler keeps it: `ret` is set for a shared ret, which a jump too far from it inlines. */
interface Resolved { to: Label | typeof NEXT; ret?: number }

/** jt and jf are 8-bit offsets. */
const MAX_JUMP = 255;

class Assembler {
  private readonly items: Item[] = [];
  /** The shared rets of the current section, by value. */
  private pooled = new Map<number, Label>();
  ld(offset: number): void { this.items.push({ code: BPF.LD_W_ABS, k: offset }); }
  and(k: number): void { this.items.push({ code: BPF.AND_K, k }); }
  ret(value: number): void { this.items.push({ code: BPF.RET_K, k: value }); }
  jump(code: number, k: number, jt: Target, jf: Target): void {
    this.items.push({ code, k, jt: this.resolve(jt), jf: this.resolve(jf) });
  }
  place(l: Label): void { l.item = this.items.length; }
  /** Emits the section's shared rets, which its jumps to a `Ret` go to. */
  pool(): void {
    for (const [value, l] of this.pooled) { this.place(l); this.ret(value); }
    this.pooled = new Map();
  }
  private resolve(t: Target): Resolved {
    if (!(t instanceof Ret)) return { to: t };
    let l = this.pooled.get(t.value);
    if (l === undefined) { l = new Label(); this.pooled.set(t.value, l); }
    return { to: l, ret: t.value };
  }

  /**
   * Lays the items out: a conditional jump is one instruction while both its targets are within 255; a side that
   * is farther becomes the next instruction, and that instruction is its shared ret inlined (`ret`) or a `ja` (a
   * 32-bit offset). Lengthening only moves targets away, so the passes stop.
   */
  assemble(): SockFilter[] {
    const n = this.items.length;
    const far = this.items.map(() => ({ t: false, f: false }));
    const addr: number[] = [];
    const layout = (): void => {
      let pc = 0;
      this.items.forEach((_, i) => { addr[i] = pc; pc += 1 + Number(far[i]!.t) + Number(far[i]!.f); });
      addr[n] = pc;
    };
    const dest = (r: Resolved, i: number): number => {
      if (r.to !== NEXT && r.to.item < 0) throw new Error('seccomp compiler: label never placed');
      const at = r.to === NEXT ? addr[i + 1]! : addr[r.to.item]!;
      if (at <= addr[i]! || at >= addr[n]!) throw new Error(`seccomp compiler: a jump at ${i} out of the program`);
      return at;
    };
    for (let changed = true; changed;) {
      changed = false;
      layout();
      this.items.forEach((ins, i) => {
        const f = far[i]!;
        if (ins.jt && !f.t && dest(ins.jt, i) - addr[i]! - 1 > MAX_JUMP) { f.t = true; changed = true; }
        if (ins.jf && !f.f && dest(ins.jf, i) - addr[i]! - 1 > MAX_JUMP) { f.f = true; changed = true; }
      });
    }
    const out: SockFilter[] = [];
    /** The instruction a far side becomes, at address `pc`. */
    const stub = (r: Resolved, i: number, pc: number): SockFilter => r.ret !== undefined
      ? { code: BPF.RET_K, jt: 0, jf: 0, k: r.ret >>> 0 }
      : { code: BPF.JA, jt: 0, jf: 0, k: dest(r, i) - pc - 1 };
    this.items.forEach((ins, i) => {
      const pc = addr[i]!;
      if (ins.jt === undefined || ins.jf === undefined) {
        out.push({ code: ins.code, jt: 0, jf: 0, k: ins.k >>> 0 });
        return;
      }
      const f = far[i]!;
      const jt = f.t ? 0 : dest(ins.jt, i) - pc - 1;
      const jf = f.f ? Number(f.t) : dest(ins.jf, i) - pc - 1;
      out.push({ code: ins.code, jt, jf, k: ins.k >>> 0 });
      if (f.t) out.push(stub(ins.jt, i, pc + 1));
      if (f.f) out.push(stub(ins.jf, i, pc + 1 + Number(f.t)));
    });
    return out;
  }
}

const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);
const lo32 = (v: bigint): number => Number(v & 0xffffffffn);

/** Goes to `holds` when the condition holds, else to `fail`. `wide`: a 64-bit ABI (both halves). */
function condition(a: Assembler, c: SeccompArg, holds: Target, fail: Target, wide: boolean): void {
  // NEXT (the next condition) is the end of this one, not the instruction after the high half's jump
  const end = holds === NEXT ? new Label() : undefined;
  const pass = end ?? holds;
  const hi = SECCOMP_DATA.ARG0 + 8 * c.index + 4;
  const lo = SECCOMP_DATA.ARG0 + 8 * c.index;
  const vh = hi32(c.value);
  const vl = lo32(c.value);
  // (arg & mask) == value holds on the high half, whatever it is, when the mask's and the value's high halves are 0
  const hiMasked = c.op === 'SCMP_CMP_MASKED_EQ' && vh === 0 && hi32(c.valueTwo) === 0;
  if (wide && !hiMasked) {
    // the high half: equal goes on to the low half; otherwise it decides (EQ/MASKED_EQ fail, NE holds, the order
    // comparisons hold or fail by which side is above)
    a.ld(hi);
    if (c.op === 'SCMP_CMP_MASKED_EQ') {
      a.and(vh); a.jump(BPF.JEQ_K, hi32(c.valueTwo), NEXT, fail);
    } else if (c.op === 'SCMP_CMP_EQ') {
      a.jump(BPF.JEQ_K, vh, NEXT, fail);
    } else if (c.op === 'SCMP_CMP_NE') {
      a.jump(BPF.JEQ_K, vh, NEXT, pass);
    } else if (c.op === 'SCMP_CMP_GT' || c.op === 'SCMP_CMP_GE') {
      a.jump(BPF.JGT_K, vh, pass, NEXT); a.jump(BPF.JEQ_K, vh, NEXT, fail);
    } else {
      a.jump(BPF.JGT_K, vh, fail, NEXT); a.jump(BPF.JEQ_K, vh, NEXT, pass);
    }
  }
  a.ld(lo);
  switch (c.op) {
    case 'SCMP_CMP_EQ': a.jump(BPF.JEQ_K, vl, pass, fail); break;
    case 'SCMP_CMP_NE': a.jump(BPF.JEQ_K, vl, fail, pass); break;
    case 'SCMP_CMP_MASKED_EQ': a.and(vl); a.jump(BPF.JEQ_K, lo32(c.valueTwo), pass, fail); break;
    case 'SCMP_CMP_GT': a.jump(BPF.JGT_K, vl, pass, fail); break;
    case 'SCMP_CMP_GE': a.jump(BPF.JGE_K, vl, pass, fail); break;
    case 'SCMP_CMP_LT': a.jump(BPF.JGE_K, vl, fail, pass); break;
    case 'SCMP_CMP_LE': a.jump(BPF.JGT_K, vl, fail, pass); break;
  }
  if (end) a.place(end);
}

/** The rules of one syscall: the first whose conditions hold returns its action, else the default. */
function syscallBlock(a: Assembler, rules: readonly ResolvedRule[], defaultRet: number, wide: boolean): void {
  for (const [i, rule] of rules.entries()) {
    if (rule.conditions.length === 0) { a.ret(rule.ret); return; }
    const fail = i === rules.length - 1 ? new Ret(defaultRet) : new Label();
    rule.conditions.forEach((c, j) => condition(a, c, j === rule.conditions.length - 1 ? new Ret(rule.ret) : NEXT, fail, wide));
    if (fail instanceof Label) a.place(fail);
  }
  if (rules.length === 0) a.ret(defaultRet);
}

interface Interval {
  start: number;
  /** The argument checks of the one syscall this interval is; else it returns `ret`. */
  rules?: readonly ResolvedRule[] | undefined;
  ret: number;
  /** Single numbers inside a run that returns `ret` which decide otherwise (see `withPoints`). */
  points?: Interval[];
}

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

/** A number alone between two runs of one `ret` joins them as a point of the merged run, checked by one `jeq`: as
 * intervals of their own it and the run after it would cost two tree nodes. */
function withPoints(ivs: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (let i = 0; i < ivs.length; i++) {
    const iv = ivs[i]!;
    const prev = out[out.length - 1];
    const next = ivs[i + 1];
    if (prev && prev.rules === undefined && next && next.rules === undefined && next.start === iv.start + 1 && next.ret === prev.ret) {
      prev.points = [...prev.points ?? [], iv];
      i++; // `next` continues `prev`
    } else {
      out.push({ ...iv });
    }
  }
  return out;
}

/** Where the search over ivs[lo..hi] starts: a run that only returns is its shared ret, anything else code of its
 * own (placed by `tree`). */
const entry = (ivs: readonly Interval[], lo: number, hi: number): Label | Ret => {
  const iv = ivs[lo];
  return lo === hi && iv !== undefined && iv.rules === undefined && iv.points === undefined ? new Ret(iv.ret) : new Label();
};

function tree(a: Assembler, ivs: readonly Interval[], lo: number, hi: number, at: Label | Ret, defaultRet: number, wide: boolean): void {
  if (at instanceof Ret) return;
  a.place(at);
  if (lo === hi) {
    const iv = ivs[lo];
    if (iv === undefined) throw new Error('seccomp compiler: empty interval');
    if (iv.points === undefined) { syscallBlock(a, iv.rules ?? [], defaultRet, wide); return; }
    // the run's points, each one `jeq`; any other number of the run returns its `ret`
    const points = iv.points;
    const to = points.map((_, j) => entry(points, j, j));
    points.forEach((p, j) => a.jump(BPF.JEQ_K, p.start, to[j]!, j === points.length - 1 ? new Ret(iv.ret) : NEXT));
    points.forEach((_, j) => tree(a, points, j, j, to[j]!, defaultRet, wide));
    return;
  }
  const mid = (lo + hi + 1) >> 1;
  const left = entry(ivs, lo, mid - 1);
  const right = entry(ivs, mid, hi);
  a.jump(BPF.JGE_K, ivs[mid]?.start ?? 0, right, left); // nr >= split: the right half
  tree(a, ivs, lo, mid - 1, left, defaultRet, wide);
  tree(a, ivs, mid, hi, right, defaultRet, wide);
}

export function compileFilter(f: ResolvedFilter): SockFilter[] {
  const a = new Assembler();
  const starts = f.sections.map(() => new Label());
  a.ld(SECCOMP_DATA.ARCH);
  f.sections.forEach((sec, i) => {
    a.jump(BPF.JEQ_K, sec.arch.auditArch, starts[i]!, i === f.sections.length - 1 ? new Ret(SECCOMP_RET.KILL_PROCESS) : NEXT);
  });
  if (f.sections.length === 0) a.ret(SECCOMP_RET.KILL_PROCESS);
  f.sections.forEach((sec, i) => {
    a.place(starts[i]!);
    a.ld(SECCOMP_DATA.NR);
    const ivs = withPoints(intervals(sec, f.defaultRet));
    const root = entry(ivs, 0, ivs.length - 1);
    if (sec.arch.bits === 64) {
      // x32 (and any number past it) kills, but for -1: a syscall a tracer skipped, which gets the default
      a.jump(BPF.JGE_K, X32_SYSCALL_BIT, NEXT, root);
      a.jump(BPF.JEQ_K, 0xffffffff, new Ret(f.defaultRet), new Ret(SECCOMP_RET.KILL_PROCESS));
    } else if (root instanceof Ret) {
      a.ret(root.value);
    }
    tree(a, ivs, 0, ivs.length - 1, root, f.defaultRet, sec.arch.bits === 64);
    a.pool();
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
