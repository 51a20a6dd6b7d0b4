// A profile resolved for one container: which rules apply (capabilities, architecture, kernel), per syscall
// number, in profile order. The compiler turns this into BPF; the tests evaluate it directly.
import { GantryError } from '../../common/errors.js';
import type { SeccompAction, SeccompArg, SeccompFilter, SeccompProfile } from './profile.js';
import { SYSCALLS_I386 } from './syscalls-i386.js';
import { SYSCALLS_X86_64 } from './syscalls-x86_64.js';

/** seccomp(2) return values. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000, KILL_THREAD: 0, TRAP: 0x00030000, ERRNO: 0x00050000, TRACE: 0x7ff00000, LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

const EPERM = 1;

/** An ABI a filter has a section for. */
export interface SeccompArch {
  /** libseccomp's name (SCMP_ARCH_*), as profiles spell it. */
  scmpName: string;
  /** AUDIT_ARCH_* value seen in seccomp_data.arch. */
  auditArch: number;
  /** 32: arguments are 32-bit, only their low half is compared (as libseccomp does). */
  bits: 32 | 64;
  syscalls: Readonly<Record<string, number>>;
}

export const ARCH_X86_64: SeccompArch = { scmpName: 'SCMP_ARCH_X86_64', auditArch: 0xc000003e, bits: 64, syscalls: SYSCALLS_X86_64 };
export const ARCH_I386: SeccompArch = { scmpName: 'SCMP_ARCH_X86', auditArch: 0x40000003, bits: 32, syscalls: SYSCALLS_I386 };

/** The host: its own ABI, the 32-bit ones a profile may add (archMap's subArchitectures), and Go's name of it, which
 * `includes.arches` is matched against (also in the sections of the other ABIs, as Docker does). */
export interface SeccompHost {
  native: SeccompArch;
  goName: string;
  compat: readonly SeccompArch[];
}

export const HOST_X86_64: SeccompHost = { native: ARCH_X86_64, goName: 'amd64', compat: [ARCH_I386] };

/** The host's architecture, or a clear refusal: only x86_64 has syscall tables today. */
export function seccompHost(nodeArch: string = process.arch): SeccompHost {
  if (nodeArch === 'x64') return HOST_X86_64;
  throw new GantryError('UNSUPPORTED', `seccomp: gantry compiles filters for x86_64 only, and this host is ${nodeArch}`, {
    hint: 'run the container with --security-opt seccomp=unconfined',
  });
}

export interface SeccompContext {
  host: SeccompHost;
  /** The container's effective capabilities, as CAP_* names. */
  caps: ReadonlySet<string>;
  /** The running kernel (major, minor), for `minKernel`. */
  kernel: readonly [number, number];
}

export interface ResolvedRule {
  /** The seccomp return value (action | data). */
  ret: number;
  /** All must hold (ANDed); no two on the same argument. */
  conditions: SeccompArg[];
}

/** One ABI's part of the filter. */
export interface ResolvedSection {
  arch: SeccompArch;
  /** Syscall number → its rules in profile order: the first whose conditions hold decides. */
  bySyscall: Map<number, ResolvedRule[]>;
}

export interface ResolvedFilter {
  defaultRet: number;
  /** The native ABI first; any other ABI is killed (libseccomp's bad-arch action). */
  sections: ResolvedSection[];
}

export function seccompRet(action: SeccompAction, errnoRet: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': return SECCOMP_RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS': return SECCOMP_RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return SECCOMP_RET.TRAP;
    case 'SCMP_ACT_ERRNO': return (SECCOMP_RET.ERRNO | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE': return (SECCOMP_RET.TRACE | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_LOG': return SECCOMP_RET.LOG;
    case 'SCMP_ACT_ALLOW': return SECCOMP_RET.ALLOW;
  }
}

export function kernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function atLeast(kernel: readonly [number, number], min: string): boolean {
  const [maj, mnr] = kernelVersion(min);
  return kernel[0] > maj || (kernel[0] === maj && kernel[1] >= mnr);
}

/** Docker's rule: `includes` needs every listed capability and the host's arch among the listed ones; `excludes`
 * drops the rule for any listed capability or arch. */
function applies(inc: SeccompFilter, exc: SeccompFilter, ctx: SeccompContext): boolean {
  if (!inc.caps.every((c) => ctx.caps.has(c))) return false;
  if (inc.arches.length > 0 && !inc.arches.includes(ctx.host.goName)) return false;
  if (inc.minKernel !== undefined && !atLeast(ctx.kernel, inc.minKernel)) return false;
  if (exc.caps.some((c) => ctx.caps.has(c))) return false;
  if (exc.arches.includes(ctx.host.goName)) return false;
  if (exc.minKernel !== undefined && atLeast(ctx.kernel, exc.minKernel)) return false;
  return true;
}

/** Conditions on one argument are not ANDed (as in runc): a rule with two on the same index becomes one rule per
 * condition. */
function splitSameIndex(args: readonly SeccompArg[]): SeccompArg[][] {
  const indexes = new Set(args.map((a) => a.index));
  return indexes.size === args.length ? [[...args]] : args.map((a) => [a]);
}

/** The ABIs the filter covers: the native one, and those of the host's 32-bit ABIs the profile names (in
 * `architectures`, or as subArchitectures of the native one in `archMap`). Others (x32, foreign ones) get none. */
export function profileArches(profile: SeccompProfile, host: SeccompHost): SeccompArch[] {
  const named = new Set(profile.architectures);
  for (const m of profile.archMap) if (m.architecture === host.native.scmpName) for (const a of m.subArchitectures) named.add(a);
  return [host.native, ...host.compat.filter((a) => named.has(a.scmpName))];
}

/** Names unknown on an architecture are skipped (libseccomp's behaviour); a rule whose action is the default
 * action is skipped (runc's). */
export function resolveProfile(profile: SeccompProfile, ctx: SeccompContext): ResolvedFilter {
  const defaultRet = seccompRet(profile.defaultAction, profile.defaultErrnoRet);
  const rules = profile.syscalls.filter((r) => applies(r.includes, r.excludes, ctx));
  const sections = profileArches(profile, ctx.host).map((arch): ResolvedSection => {
    const bySyscall = new Map<number, ResolvedRule[]>();
    for (const rule of rules) {
      const ret = seccompRet(rule.action, rule.errnoRet);
      if (ret === defaultRet) continue;
      for (const name of rule.names) {
        const nr = arch.syscalls[name];
        if (nr === undefined) continue;
        const list = bySyscall.get(nr) ?? [];
        for (const conditions of splitSameIndex(rule.args)) list.push({ ret, conditions });
        bySyscall.set(nr, list);
      }
    }
    for (const [nr, list] of bySyscall) {
      // nothing after an unconditional rule can decide
      const end = list.findIndex((r) => r.conditions.length === 0);
      if (end >= 0) bySyscall.set(nr, list.slice(0, end + 1));
    }
    return { arch, bySyscall };
  });
  return { defaultRet, sections };
}
