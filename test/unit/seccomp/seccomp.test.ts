import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFilter, encodeFilter, BPF_MAXINSNS, type SockFilter } from '../../../src/engine/seccomp/compile.js';
import { defaultSeccompProfile } from '../../../src/engine/seccomp/default-profile.js';
import { capabilityNames, seccompChoiceOf, seccompFilterFor } from '../../../src/engine/seccomp/index.js';
import { parseSeccompProfile, SECCOMP_OPS, type SeccompAction, type SeccompArg, type SeccompProfile, type SeccompRule } from '../../../src/engine/seccomp/profile.js';
import { HOST_X86_64, SECCOMP_RET, resolveProfile, seccompRet, type SeccompContext } from '../../../src/engine/seccomp/rules.js';
import { SYSCALLS_I386 } from '../../../src/engine/seccomp/syscalls-i386.js';
import { SYSCALLS_X86_64 } from '../../../src/engine/seccomp/syscalls-x86_64.js';
import { capabilityMask } from '../../../src/engine/runtime/capabilities.js';
import { checkProgram, ebpfLength, runBpf } from './bpf-interpreter.js';
import { isCode } from '../core/helpers.js';

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const EPERM = (SECCOMP_RET.ERRNO | 1) >>> 0;
const ENOSYS = (SECCOMP_RET.ERRNO | 38) >>> 0;
const ALLOW = SECCOMP_RET.ALLOW;
const NR = (name: string): number => { const n = SYSCALLS_X86_64[name]; assert.ok(n !== undefined, name); return n; };
const ctx = (caps: Iterable<string>, kernel: [number, number] = [6, 1]): SeccompContext => ({ host: HOST_X86_64, caps: new Set(caps), kernel });
const DEFAULT_CAPS = capabilityNames(capabilityMask([], []));
const compiled = (profile: SeccompProfile, c: SeccompContext): SockFilter[] => compileFilter(resolveProfile(profile, c));
const call = (prog: readonly SockFilter[], name: string, ...args: bigint[]): number => runBpf(prog, { nr: NR(name), arch: AUDIT_ARCH_X86_64, args });
const NR32 = (name: string): number => { const n = SYSCALLS_I386[name]; assert.ok(n !== undefined, name); return n; };
const call32 = (prog: readonly SockFilter[], name: string, ...args: bigint[]): number => runBpf(prog, { nr: NR32(name), arch: AUDIT_ARCH_I386, args });

// ---- the reference: a profile evaluated directly, rule by rule, with 64-bit arithmetic --------------------------

const U64 = (1n << 64n) - 1n;
function holds(c: SeccompArg, args: readonly bigint[], bits: 32 | 64): boolean {
  const cut = (v: bigint): bigint => (bits === 32 ? v & 0xffffffffn : v);
  const a = cut(args[c.index] ?? 0n);
  const v = cut(c.value);
  switch (c.op) {
    case 'SCMP_CMP_EQ': return a === v;
    case 'SCMP_CMP_NE': return a !== v;
    case 'SCMP_CMP_LT': return a < v;
    case 'SCMP_CMP_LE': return a <= v;
    case 'SCMP_CMP_GT': return a > v;
    case 'SCMP_CMP_GE': return a >= v;
    case 'SCMP_CMP_MASKED_EQ': return (a & v) === cut(c.valueTwo);
  }
}
/** The ABIs: x86_64 always, i386 when the profile names SCMP_ARCH_X86 (directly or as x86_64's sub-architecture). */
function reference(profile: SeccompProfile, c: SeccompContext, nr: number, args: readonly bigint[], arch = AUDIT_ARCH_X86_64): number {
  const def = seccompRet(profile.defaultAction, profile.defaultErrnoRet);
  const i386 = profile.architectures.includes('SCMP_ARCH_X86')
    || profile.archMap.some((m) => m.architecture === 'SCMP_ARCH_X86_64' && m.subArchitectures.includes('SCMP_ARCH_X86'));
  if (arch !== AUDIT_ARCH_X86_64 && !(arch === AUDIT_ARCH_I386 && i386)) return SECCOMP_RET.KILL_PROCESS;
  if (arch === AUDIT_ARCH_X86_64 && nr >= 0x40000000) return nr === 0xffffffff ? def : SECCOMP_RET.KILL_PROCESS;
  const table = arch === AUDIT_ARCH_I386 ? SYSCALLS_I386 : SYSCALLS_X86_64;
  const bits = arch === AUDIT_ARCH_I386 ? 32 : 64;
  const name = Object.entries(table).find(([, n]) => n === nr)?.[0];
  for (const r of profile.syscalls) {
    if (name === undefined || !r.names.includes(name)) continue;
    if (!r.includes.caps.every((cap) => c.caps.has(cap)) || r.excludes.caps.some((cap) => c.caps.has(cap))) continue;
    if (r.includes.arches.length > 0 && !r.includes.arches.includes('amd64')) continue;
    if (r.excludes.arches.includes('amd64')) continue;
    if (r.includes.minKernel !== undefined && (c.kernel[0] * 1000 + c.kernel[1]) < Number(r.includes.minKernel.split('.')[0]) * 1000 + Number(r.includes.minKernel.split('.')[1])) continue;
    const ret = seccompRet(r.action, r.errnoRet);
    if (ret === def) continue;
    const sameIndex = new Set(r.args.map((x) => x.index)).size !== r.args.length;
    const match = sameIndex ? r.args.some((x) => holds(x, args, bits)) : r.args.every((x) => holds(x, args, bits));
    if (match) return ret;
  }
  return def;
}

describe('seccomp profile parser', () => {
  const bad = (text: string, field: string): void => {
    assert.throws(() => parseSeccompProfile(text), (e: unknown) => isCode('SECCOMP_PROFILE_INVALID')(e) && (e as Error).message.includes(field));
  };
  test('names the wrong field', () => {
    bad('{', 'not valid JSON');
    bad('[]', 'must be a JSON object');
    bad('{"defaultAction":"SCMP_ACT_NOPE"}', 'defaultAction');
    bad('{"defaultAction":"SCMP_ACT_NOTIFY"}', 'not supported');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":-1}', 'defaultErrnoRet');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":{}}', 'syscalls must be a list');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"}]}', 'syscalls[0].names');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},{"names":["write"],"action":"X"}]}', 'syscalls[1].action');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}', 'syscalls[0].args[0].index');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"EQ"}]}]}', 'syscalls[0].args[0].op');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}', 'syscalls[0].args[0].value');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551616,"op":"SCMP_CMP_EQ"}]}]}', 'syscalls[0].args[0].value');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":70000}]}', 'syscalls[0].errnoRet');
    bad('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":"CAP_X"}}]}', 'syscalls[0].includes.caps');
  });
  test('a profile over 1 MiB is refused for its size', () => {
    assert.throws(() => parseSeccompProfile(`{"defaultAction":"SCMP_ACT_ALLOW","comment":"${'x'.repeat(1 << 20)}"}`), isCode('TOO_LARGE'));
  });
  test('64-bit values keep every digit; unknown keys are ignored; `name` is the old spelling of `names`', () => {
    const p = parseSeccompProfile('{"defaultAction":"SCMP_ACT_ERRNO","comment":"x","syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":18446744073709551615,"valueTwo": 9007199254740993,"op":"SCMP_CMP_MASKED_EQ"}]}]}');
    assert.deepEqual(p.syscalls[0]?.names, ['read']);
    assert.equal(p.syscalls[0]?.args[0]?.value, U64);
    assert.equal(p.syscalls[0]?.args[0]?.valueTwo, 9007199254740993n);
  });
  test('the daemon takes unconfined, builtin or JSON; anything else (a path) is a clear error', () => {
    assert.deepEqual(seccompChoiceOf('unconfined'), { kind: 'unconfined' });
    assert.equal(seccompChoiceOf('builtin'), undefined);
    assert.throws(() => seccompChoiceOf('./profile.json'), isCode('SECCOMP_PROFILE_INVALID', /JSON/));
    assert.throws(() => seccompChoiceOf('{"defaultAction":1}'), isCode('SECCOMP_PROFILE_INVALID', /defaultAction/));
  });
});

describe('the default profile compiled (Docker\'s semantics)', () => {
  const prog = compiled(defaultSeccompProfile(), ctx(DEFAULT_CAPS));
  const admin = compiled(defaultSeccompProfile(), ctx([...DEFAULT_CAPS, 'CAP_SYS_ADMIN']));
  // What the kernel keeps per filter: a kmalloc copy of the classic program (8 bytes an instruction; kmalloc-2k up
  // to 256 instructions) and the bpf_prog in whole vmalloc pages: its header (72 bytes on 6.x x86_64; 128 here to
  // be safe) and the longer of the classic and the converted eBPF program.
  const none = compiled(defaultSeccompProfile(), ctx([]));
  test(`is ${prog.length} instructions, ${ebpfLength(prog)} converted (${none.length} without any capability): its kernel copy fits kmalloc-2k, its bpf_prog one page`, () => {
    for (const p of [prog, none, admin]) {
      checkProgram(p);
      assert.ok(p.length <= 256, `${p.length} instructions: the kernel's copy of ${p.length * 8} bytes takes a kmalloc-4k or more`);
      assert.ok(128 + 8 * Math.max(p.length, ebpfLength(p)) <= 4096, `${ebpfLength(p)} eBPF instructions: more than a page`);
      assert.equal(encodeFilter(p).length, p.length * 8);
    }
  });
  test('allows the usual syscalls, refuses keyctl, add_key, mount, unshare, setns, bpf with EPERM', () => {
    for (const n of ['read', 'write', 'openat', 'execve', 'mkdir', 'capset', 'setresuid', 'prctl', 'chroot', 'exit_group']) assert.equal(call(prog, n), ALLOW, n);
    for (const n of ['keyctl', 'add_key', 'request_key', 'mount', 'umount2', 'unshare', 'setns', 'bpf', 'reboot', 'kexec_load', 'init_module', 'open_by_handle_at', 'kcmp', 'io_uring_setup', 'io_uring_enter']) assert.equal(call(prog, n), EPERM, n);
  });
  test('clone without namespace flags only; clone3 is ENOSYS; CAP_SYS_ADMIN allows both and mount, unshare', () => {
    assert.equal(call(prog, 'clone', 0x01200011n), ALLOW); // fork's flags
    assert.equal(call(prog, 'clone', 0x10000000n | 17n), EPERM); // CLONE_NEWUSER
    assert.equal(call(prog, 'clone', (1n << 32n) | 17n), ALLOW, 'the high half carries no flag');
    assert.equal(call(prog, 'clone3'), ENOSYS);
    assert.equal(call(admin, 'clone', 0x10000000n | 17n), ALLOW);
    assert.equal(call(admin, 'clone3'), ALLOW);
    for (const n of ['mount', 'unshare', 'setns', 'umount2', 'sethostname']) assert.equal(call(admin, n), ALLOW, n);
    assert.equal(call(admin, 'keyctl'), EPERM);
  });
  test('personality: only Docker\'s values; socket: every family but AF_ALG and AF_VSOCK', () => {
    for (const v of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn]) assert.equal(call(prog, 'personality', v), ALLOW, `${v}`);
    for (const v of [1n, 0x0040000n, 0x1_ffffffffn]) assert.equal(call(prog, 'personality', v), EPERM, `${v}`);
    for (const family of [1n, 2n, 10n, 16n, 37n, 39n, 41n, 45n]) assert.equal(call(prog, 'socket', family), ALLOW, `${family}`);
    assert.equal(call(prog, 'socket', 38n), EPERM);
    assert.equal(call(prog, 'socket', 40n), EPERM);
    assert.equal(call(prog, 'socket', (1n << 32n) | 40n), ALLOW, 'a 64-bit value is compared whole');
  });
  test('ptrace needs kernel 4.8 or CAP_SYS_PTRACE', () => {
    assert.equal(call(compiled(defaultSeccompProfile(), ctx(DEFAULT_CAPS, [4, 8])), 'ptrace'), ALLOW);
    assert.equal(call(compiled(defaultSeccompProfile(), ctx(DEFAULT_CAPS, [4, 7])), 'ptrace'), EPERM);
    assert.equal(call(compiled(defaultSeccompProfile(), ctx([...DEFAULT_CAPS, 'CAP_SYS_PTRACE'], [4, 7])), 'ptrace'), ALLOW);
  });
  test('i386 (archMap\'s sub-architecture) gets its own section with its own numbers; 32-bit arguments', () => {
    for (const n of ['read', 'write', 'socketcall', 'mmap2', '_llseek', 'execve']) assert.equal(call32(prog, n), ALLOW, n);
    for (const n of ['keyctl', 'add_key', 'mount', 'unshare', 'io_uring_setup']) assert.equal(call32(prog, n), EPERM, n);
    assert.equal(call32(prog, 'clone3'), ENOSYS);
    assert.equal(call32(prog, 'clone', 0x10000000n | 17n), EPERM);
    assert.equal(call32(prog, 'clone', 17n), ALLOW);
    assert.equal(call32(prog, 'personality', 0xffffffffn), ALLOW);
    assert.equal(call32(prog, 'socket', 40n), EPERM);
    assert.equal(call32(admin, 'mount'), ALLOW);
  });
  test('an ABI the profile does not name (aarch64; i386 without archMap) and x32 numbers kill the process; nr -1 gets the default', () => {
    assert.equal(runBpf(prog, { nr: 0, arch: AUDIT_ARCH_AARCH64, args: [] }), SECCOMP_RET.KILL_PROCESS);
    const nativeOnly = compiled({ ...defaultSeccompProfile(), archMap: [] }, ctx(DEFAULT_CAPS));
    assert.equal(runBpf(nativeOnly, { nr: NR32('read'), arch: AUDIT_ARCH_I386, args: [] }), SECCOMP_RET.KILL_PROCESS);
    assert.equal(call(nativeOnly, 'read'), ALLOW);
    assert.equal(runBpf(prog, { nr: 0x40000000 | NR('read'), arch: AUDIT_ARCH_X86_64, args: [] }), SECCOMP_RET.KILL_PROCESS);
    assert.equal(runBpf(prog, { nr: 0xffffffff, arch: AUDIT_ARCH_X86_64, args: [] }), EPERM);
    assert.equal(runBpf(prog, { nr: 100000, arch: AUDIT_ARCH_X86_64, args: [] }), EPERM);
  });
  test('the filter is compiled once per capability set; --privileged and unconfined get none', () => {
    const mask = capabilityMask([], []);
    assert.equal(seccompFilterFor(undefined, mask, false), seccompFilterFor(undefined, mask, false));
    assert.notDeepEqual(seccompFilterFor(undefined, mask, false), seccompFilterFor(undefined, mask | (1n << 21n), false));
    assert.equal(seccompFilterFor(undefined, mask, true), undefined);
    assert.equal(seccompFilterFor({ kind: 'unconfined' }, mask, false), undefined);
  });
  test('every syscall number 0..1023 of both ABIs (default set, no capability, CAP_SYS_ADMIN) matches the profile; the argument-checked ones around each value they check', () => {
    const plain = [[], [0xffffffffn]];
    const around = [0n, 1n, 8n, 17n, 37n, 38n, 39n, 40n, 41n, 0x20000n, 0x20008n, 0x10000000n | 17n, 0x7e020000n, 0x80000000n,
      0xfffffffen, 0xffffffffn, 1n << 32n, (1n << 32n) | 8n, (1n << 32n) | 40n, U64].map((v) => [v]);
    for (const caps of [DEFAULT_CAPS, new Set<string>(), new Set([...DEFAULT_CAPS, 'CAP_SYS_ADMIN'])]) {
      const c = ctx(caps);
      const p = compiled(defaultSeccompProfile(), c);
      for (const sec of resolveProfile(defaultSeccompProfile(), c).sections) {
        const arch = sec.arch.auditArch;
        const checked = new Set([...sec.bySyscall].filter(([, rules]) => rules.some((r) => r.conditions.length > 0)).map(([nr]) => nr));
        assert.ok(checked.size >= 2, 'personality and socket (and clone but with CAP_SYS_ADMIN) check arguments');
        for (let nr = 0; nr < 1024; nr++) {
          for (const args of checked.has(nr) ? around : plain) {
            assert.equal(runBpf(p, { nr, arch, args }), reference(defaultSeccompProfile(), c, nr, args, arch), `${sec.arch.scmpName} nr ${nr} (${args.join()})`);
          }
        }
      }
    }
  });
});

// ---- fuzz: random profiles and calls, the compiled program against the reference ------------------------------

const NAMES = ['read', 'write', 'mkdir', 'clone', 'socket', 'personality', 'keyctl', 'mount', 'no_such_syscall'];
const EDGE = [0n, 1n, 40n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, (1n << 32n) + 1n, 0xffffffff_00000000n, U64 - 1n, U64];
const u64 = fc.oneof(fc.constantFrom(...EDGE), fc.bigInt({ min: 0n, max: U64 }), fc.bigInt({ min: 0n, max: 255n }));
const argArb: fc.Arbitrary<SeccompArg> = fc.record({ index: fc.integer({ min: 0, max: 2 }), value: u64, valueTwo: u64, op: fc.constantFrom(...SECCOMP_OPS) });
const actionArb = fc.constantFrom<SeccompAction>('SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_LOG');
const ruleArb: fc.Arbitrary<SeccompRule> = fc.record({
  names: fc.subarray(NAMES, { minLength: 1 }), action: actionArb, errnoRet: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
  args: fc.array(argArb, { maxLength: 3 }),
  includes: fc.record({ caps: fc.subarray(['CAP_SYS_ADMIN', 'CAP_CHOWN']), arches: fc.constantFrom([], ['amd64'], ['arm64']) }),
  excludes: fc.record({ caps: fc.subarray(['CAP_SYS_ADMIN', 'CAP_NET_RAW']), arches: fc.constantFrom([], ['s390x']) }),
});
const profileArb: fc.Arbitrary<SeccompProfile> = fc.record({
  defaultAction: actionArb, defaultErrnoRet: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
  architectures: fc.constantFrom([], ['SCMP_ARCH_X86_64'], ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']),
  archMap: fc.constantFrom([], [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }]),
  syscalls: fc.array(ruleArb, { maxLength: 8 }),
});

describe('compiler against a direct evaluation of the profile (fast-check)', () => {
  test('random profiles, capability sets and calls, on every ABI', () => {
    const archArb = fc.constantFrom(AUDIT_ARCH_X86_64, AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64);
    fc.assert(fc.property(profileArb, fc.subarray(['CAP_SYS_ADMIN', 'CAP_CHOWN', 'CAP_NET_RAW']), fc.array(fc.record({
      name: fc.constantFrom(...NAMES.filter((n) => n !== 'no_such_syscall'), 'getpid'), args: fc.array(u64, { minLength: 3, maxLength: 3 }), arch: archArb,
      x32: fc.boolean(),
    }), { minLength: 1, maxLength: 20 }), (profile, caps, calls) => {
      const c = ctx(caps);
      const prog = compiled(profile, c);
      for (const { name, args, arch, x32 } of calls) {
        const nr = (arch === AUDIT_ARCH_I386 ? NR32(name) : NR(name)) | (x32 && arch === AUDIT_ARCH_X86_64 ? 0x40000000 : 0);
        assert.equal(runBpf(prog, { nr, arch, args }), reference(profile, c, nr, args, arch), `${arch.toString(16)} ${name}(${args.join(', ')})`);
      }
    }), { numRuns: 400 });
  });
  test('the default profile under random capability sets and arguments', () => {
    const all = [...capabilityNames((1n << 41n) - 1n)];
    fc.assert(fc.property(fc.subarray(all), fc.integer({ min: 0, max: 460 }), fc.array(u64, { minLength: 2, maxLength: 2 }), (caps, nr, args) => {
      const c = ctx(caps);
      assert.equal(runBpf(compiled(defaultSeccompProfile(), c), { nr, arch: AUDIT_ARCH_X86_64, args }), reference(defaultSeccompProfile(), c, nr, args));
    }), { numRuns: 300 });
  });
  test('a program of thousands of instructions needs no jump over 255 and still decides right', () => {
    const names = Object.keys(SYSCALLS_X86_64);
    const profile: SeccompProfile = { defaultAction: 'SCMP_ACT_ERRNO', architectures: [], archMap: [], syscalls: names.map((n, i) => ({
      names: [n], action: i % 3 === 0 ? 'SCMP_ACT_LOG' : 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_GT', value: BigInt(i), valueTwo: 0n }],
      includes: { caps: [], arches: [] }, excludes: { caps: [], arches: [] } })) };
    const prog = compiled(profile, ctx([]));
    assert.ok(prog.length > 2000 && prog.length <= BPF_MAXINSNS, `${prog.length}`);
    checkProgram(prog);
    assert.ok(prog.some((ins) => ins.code === 0x05), 'far subtrees are reached through a ja');
    names.forEach((n, i) => {
      assert.equal(call(prog, n, BigInt(i) + 1n), reference(profile, ctx([]), NR(n), [BigInt(i) + 1n]), n);
      assert.equal(call(prog, n, BigInt(i)), EPERM, n);
    });
  });
  test('a right subtree past 255 instructions (a long argument check before it) is reached through a ja; rets too far from the shared ones are inlined', () => {
    // read (0) checks its first argument against 80 values: a block of 320 instructions the tree jumps over
    const rule = (names: string[], action: SeccompAction, args: SeccompArg[] = []): SeccompRule => ({
      names, action, args, includes: { caps: [], arches: [] }, excludes: { caps: [], arches: [] } });
    const profile: SeccompProfile = { defaultAction: 'SCMP_ACT_ERRNO', architectures: [], archMap: [], syscalls: [
      ...Array.from({ length: 80 }, (_, i) => rule(['read'], 'SCMP_ACT_ALLOW', [{ index: 0, op: 'SCMP_CMP_EQ', value: BigInt(3 * i), valueTwo: 0n }])),
      rule(['write', 'mkdir', 'getpid', 'exit_group'], 'SCMP_ACT_ALLOW'), rule(['mount'], 'SCMP_ACT_LOG'),
    ] };
    const prog = compiled(profile, ctx([]));
    checkProgram(prog);
    assert.ok(prog.length > 320 && prog.some((ins) => ins.code === 0x05), `${prog.length} instructions, a ja among them`);
    assert.ok(prog.filter((ins) => ins.code === 0x06 && ins.k === EPERM).length > 1, 'a ret EPERM inlined far from the shared one');
    for (let nr = 0; nr < 512; nr++) assert.equal(runBpf(prog, { nr, arch: AUDIT_ARCH_X86_64, args: [] }), reference(profile, ctx([]), nr, []), `nr ${nr}`);
    for (const v of [0n, 1n, 3n, 120n, 237n, 238n, 239n, 240n, 1n << 32n]) assert.equal(call(prog, 'read', v), reference(profile, ctx([]), 0, [v]), `read(${v})`);
  });
});

test('a custom profile is compiled once per capability set: every exec and healthcheck of the container reuses it', () => {
  const json = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
  const first = seccompFilterFor({ kind: 'profile', json }, 0n, false);
  assert.ok(first !== undefined);
  assert.equal(seccompFilterFor({ kind: 'profile', json }, 0n, false), first, 'the same compiled bytes');
  assert.notEqual(seccompFilterFor({ kind: 'profile', json }, 1n << 21n, false), first, 'another capability set is compiled on its own');
});
