import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEVCG_ACC_MKNOD, DEVCG_ACC_READ, DEVCG_ACC_WRITE, DEVCG_DEV_BLOCK, DEVCG_DEV_CHAR, deviceProgram, encodeProgram, OP,
} from '../../../src/engine/cgroups/bpf-devices.js';
import { ALLOW_ALL_DEVICES, DEFAULT_DEVICE_RULES, parseDeviceRule } from '../../../src/engine/cgroups/index.js';
import type { DeviceRule } from '../../../src/engine/cgroups/index.js';
import { UNIFIED, UNIFIED_MOUNTS, withHost } from './hosts.js';

/** Runs encoded instructions the way the kernel would for one access (only the opcodes the generator may use). */
function run(program: Buffer, ctx: { type: number; access: number; major: number; minor: number }): number {
  const mem = [(ctx.access << 16) | ctx.type, ctx.major, ctx.minor];
  const r: bigint[] = Array.from({ length: 11 }, () => 0n);
  const mask64 = (1n << 64n) - 1n;
  for (let pc = 0, steps = 0; steps < 10_000; steps++) {
    assert.ok(pc >= 0 && pc * 8 < program.length, `pc ${pc} out of the program`);
    const code = program.readUInt8(pc * 8);
    const dst = program.readUInt8(pc * 8 + 1) & 0xf;
    const src = program.readUInt8(pc * 8 + 1) >> 4;
    const off = program.readInt16LE(pc * 8 + 2);
    const imm = BigInt(program.readInt32LE(pc * 8 + 4)) & mask64;
    pc++;
    switch (code) {
      case OP.LDX_MEM_W:
        assert.equal(src, 1, 'loads only from the context');
        assert.ok(off % 4 === 0 && off >= 0 && off <= 8, `context offset ${off}`);
        r[dst] = BigInt(mem[off / 4]! >>> 0);
        break;
      case OP.ALU64_AND_K: r[dst] = r[dst]! & imm; break;
      case OP.ALU64_RSH_K: r[dst] = r[dst]! >> imm; break;
      case OP.ALU64_MOV_K: r[dst] = imm; break;
      case OP.ALU64_MOV_X: r[dst] = r[src]!; break;
      case OP.JMP_JNE_K: if (r[dst] !== imm) pc += off; break;
      case OP.JMP_EXIT: return Number(r[0]);
      default: assert.fail(`unexpected opcode 0x${code.toString(16)}`);
    }
  }
  return assert.fail('the program does not end');
}

/** The v1 kernel's rule: some one rule matches the device and grants every requested bit. */
function v1Allows(rules: readonly DeviceRule[], type: 'b' | 'c', major: number, minor: number, access: string): boolean {
  return rules.some((r) => (r.type === 'a' || r.type === type) && (r.major === '*' || r.major === major)
    && (r.minor === '*' || r.minor === minor) && [...access].every((a) => r.access.includes(a)));
}

const ACCESSES = ['m', 'r', 'w', 'rw', 'rm', 'wm', 'rwm'];
const bits = (a: string): number => (a.includes('m') ? DEVCG_ACC_MKNOD : 0) | (a.includes('r') ? DEVCG_ACC_READ : 0) | (a.includes('w') ? DEVCG_ACC_WRITE : 0);

function assertSameAsV1(rules: readonly DeviceRule[]): void {
  const program = encodeProgram(deviceProgram(rules));
  for (const type of ['b', 'c'] as const) {
    for (const major of [0, 1, 4, 5, 7, 8, 10, 136, 137, 259, 4095]) {
      for (const minor of [0, 1, 2, 3, 5, 7, 8, 9, 11, 200, 229, 1048575]) {
        for (const access of ACCESSES) {
          const got = run(program, { type: type === 'b' ? DEVCG_DEV_BLOCK : DEVCG_DEV_CHAR, access: bits(access), major, minor });
          assert.equal(got, v1Allows(rules, type, major, minor, access) ? 1 : 0, `${type} ${major}:${minor} ${access}`);
        }
      }
    }
  }
}

test("the eBPF program allows exactly what the same rules allow on v1: Docker's default list", () => {
  assertSameAsV1(DEFAULT_DEVICE_RULES);
});

test('the eBPF program for allow-all, nothing, partial access and --device rules', () => {
  assertSameAsV1(ALLOW_ALL_DEVICES);
  assertSameAsV1([]);
  assertSameAsV1(['c 10:229 r', 'b 8:* rw', 'c *:3 w', 'b *:* m'].map(parseDeviceRule));
  assertSameAsV1([...DEFAULT_DEVICE_RULES, parseDeviceRule('c 10:229 rw')]);
});

test('the encoding is the kernel\'s struct bpf_insn: code, dst|src<<4, off (LE s16), imm (LE s32)', () => {
  const buf = encodeProgram([{ code: 0x55, dst: 5, src: 1, off: -2, imm: -1 }]);
  assert.deepEqual([...buf], [0x55, 0x15, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const prog = deviceProgram(DEFAULT_DEVICE_RULES);
  assert.ok(prog.length < 4096, 'well under the kernel limit for unprivileged-size programs');
  assert.deepEqual(prog.slice(-2).map((i) => [i.code, i.imm]), [[OP.ALU64_MOV_K, 0], [OP.JMP_EXIT, 0]], 'denies at the end');
  // Allow-all ends right after its block: the kernel's verifier refuses unreachable instructions.
  const all = deviceProgram([...ALLOW_ALL_DEVICES, ...DEFAULT_DEVICE_RULES]);
  assert.deepEqual(all.slice(-2).map((i) => [i.code, i.imm]), [[OP.ALU64_MOV_K, 1], [OP.JMP_EXIT, 0]]);
  assert.equal(all.filter((i) => i.code === OP.JMP_EXIT).length, 1);
});

test('v2 create attaches a program that allows what the v1 list would', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, ({ fake, driver }) => {
    driver.create('gantry-t/c1', { devicesAllowed: [...DEFAULT_DEVICE_RULES] });
    const program = fake.devicePrograms.get(fake.rel(fake.abs('/sys/fs/cgroup/gantry-t/c1')));
    assert.ok(program !== undefined);
    assert.equal(run(program, { type: DEVCG_DEV_CHAR, access: DEVCG_ACC_WRITE, major: 1, minor: 3 }), 1);
    assert.equal(run(program, { type: DEVCG_DEV_CHAR, access: DEVCG_ACC_WRITE, major: 4, minor: 0 }), 0);
    assert.equal(run(program, { type: DEVCG_DEV_CHAR, access: DEVCG_ACC_MKNOD, major: 4, minor: 0 }), 1);
  });
});
